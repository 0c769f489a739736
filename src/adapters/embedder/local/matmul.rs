//! Matrix products of a few dozen rows of activations (the tokens of a pass) with a weight matrix
//! (`out[m×n] = x[m×k] · w[n×k]ᵀ`, `w` stored row-major as models ship it).
//!
//! A [`Weight`] is laid out once, at load, for the widest kernel the CPU runs (checked once at run
//! time): on x86-64 with AVX-512F, or AVX2 and FMA, in panels of two registers' worth of outputs
//! holding, for each input, those outputs' weights side by side; each step of the kernel is then
//! two loads, one broadcast per row and two fused multiply-adds per row, with nothing repacked per
//! call (general GEMM libraries repack an operand on every call, which at this size cost as much
//! as the arithmetic). Elsewhere (arm64 included) weights stay as stored and [`matmul_t`] runs.
//!
//! [`matmul_t`] multiplies by a matrix made during the pass (attention's keys): dot products of
//! contiguous rows, in blocks of 3 rows × 4 outputs summed in AVX2 registers, or a portable version
//! of the same blocking that the compiler vectorises for the target's baseline.

/// A row-major matrix view: `rows` rows of `cols` values, rows `stride` values apart.
#[derive(Clone, Copy)]
pub(super) struct Rows<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    stride: usize,
}

impl<'a> Rows<'a> {
    /// A view of `rows` rows of `cols` values starting at `data[0]`, `stride` apart.
    ///
    /// # Panics
    /// When `data` is too short for that shape, or `cols > stride` (a caller's bug, not input).
    pub(super) fn new(data: &'a [f32], rows: usize, cols: usize, stride: usize) -> Self {
        assert!(cols <= stride, "a row of {cols} values cannot be {stride} apart");
        assert!(
            rows == 0 || data.len() >= (rows - 1) * stride + cols,
            "{rows}×{cols} rows (stride {stride}) need more than {} values",
            data.len()
        );
        Self { data, rows, cols, stride }
    }

    /// A contiguous matrix of `cols` columns.
    pub(super) fn dense(data: &'a [f32], cols: usize) -> Self {
        Self::new(data, data.len() / cols.max(1), cols, cols)
    }

    fn row(&self, r: usize) -> &'a [f32] {
        &self.data[r * self.stride..r * self.stride + self.cols]
    }
}

/// `out[i·out_stride + j] = dot(x[i], w[j]) (+ bias[j])` for every row `i` of `x` and `j` of `w`.
///
/// # Panics
/// When the shapes disagree (a caller's bug, not input).
pub(super) fn matmul_t(x: Rows<'_>, w: Rows<'_>, bias: Option<&[f32]>, out: &mut [f32], out_stride: usize) {
    assert_eq!(x.cols, w.cols, "inner dimensions differ");
    let mut out = Output::checked(out, out_stride, x.rows, w.rows, bias);
    #[cfg(target_arch = "x86_64")]
    if x86::dot::available() {
        // SAFETY: the CPU has AVX2 and FMA (just checked).
        return unsafe { x86::dot::matmul_t(x, w, &mut out) };
    }
    portable::matmul_t(x, w, &mut out);
}

/// A weight matrix (`outputs × inputs`, row-major as stored) laid out once for the kernel this
/// CPU runs (see the module's documentation).
pub(super) struct Weight {
    layout: Layout,
    inputs: usize,
    outputs: usize,
}

enum Layout {
    /// As stored, for [`matmul_t`].
    Rows(Vec<f32>),
    /// In panels for that kernel ([`panels`]).
    #[cfg(target_arch = "x86_64")]
    Panels(Vec<f32>, x86::PanelKernel),
}

impl Weight {
    /// Lays out `rows` (`outputs × inputs`, row-major) for this CPU.
    ///
    /// # Panics
    /// When `rows` does not hold `outputs × inputs` values (a caller's bug).
    pub(super) fn new(rows: Vec<f32>, inputs: usize, outputs: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        return Self::for_kernel(rows, inputs, outputs, x86::PanelKernel::detected());
        #[cfg(not(target_arch = "x86_64"))]
        Self::for_kernel(rows, inputs, outputs)
    }

    /// Lays out `rows` for `kernel` (as stored when there is none).
    #[cfg(target_arch = "x86_64")]
    fn for_kernel(rows: Vec<f32>, inputs: usize, outputs: usize, kernel: Option<x86::PanelKernel>) -> Self {
        assert_eq!(rows.len(), inputs * outputs, "a weight of {outputs}×{inputs}");
        let layout = match kernel {
            Some(kernel) => Layout::Panels(panels(&rows, inputs, outputs, kernel.width()), kernel),
            None => Layout::Rows(rows),
        };
        Self { layout, inputs, outputs }
    }

    /// Keeps `rows` as stored.
    #[cfg(not(target_arch = "x86_64"))]
    fn for_kernel(rows: Vec<f32>, inputs: usize, outputs: usize) -> Self {
        assert_eq!(rows.len(), inputs * outputs, "a weight of {outputs}×{inputs}");
        Self { layout: Layout::Rows(rows), inputs, outputs }
    }

    /// Its number of inputs (the width of a row it multiplies).
    pub(super) fn inputs(&self) -> usize {
        self.inputs
    }

    /// Its number of outputs.
    pub(super) fn outputs(&self) -> usize {
        self.outputs
    }

    /// `out[i·out_stride + j] = dot(x[i], row j of the weight) (+ bias[j])` for every row of `x`.
    ///
    /// # Panics
    /// When the shapes disagree (a caller's bug, not input).
    pub(super) fn apply(&self, x: Rows<'_>, bias: Option<&[f32]>, out: &mut [f32], out_stride: usize) {
        match &self.layout {
            Layout::Rows(rows) => matmul_t(x, Rows::dense(rows, self.inputs), bias, out, out_stride),
            #[cfg(target_arch = "x86_64")]
            Layout::Panels(panels, kernel) => {
                assert_eq!(x.cols, self.inputs, "inner dimensions differ");
                let mut out = Output::checked(out, out_stride, x.rows, self.outputs, bias);
                // SAFETY: the kernel was detected on this CPU; `panels` is the packing of an
                // `outputs × inputs` weight for its width.
                unsafe { kernel.apply(x, panels, self.outputs, &mut out) }
            }
        }
    }
}

/// `rows` (`outputs × inputs`) in panels of `width` outputs: panel `j` holds, for each input `p`,
/// the weights of outputs `j·width..(j+1)·width` for `p`, zero past the last output.
#[cfg(target_arch = "x86_64")]
fn panels(rows: &[f32], inputs: usize, outputs: usize, width: usize) -> Vec<f32> {
    let mut packed = vec![0.0; outputs.div_ceil(width) * width * inputs];
    for (o, row) in rows.chunks_exact(inputs).enumerate() {
        let panel = &mut packed[(o / width) * width * inputs..];
        for (p, &value) in row.iter().enumerate() {
            panel[p * width + o % width] = value;
        }
    }
    packed
}

/// Where results go: `values[i·stride + j]`, plus `bias[j]` when there is one.
struct Output<'a, 'b> {
    values: &'a mut [f32],
    stride: usize,
    bias: Option<&'b [f32]>,
}

impl<'a, 'b> Output<'a, 'b> {
    /// The output of `rows × outputs` results.
    ///
    /// # Panics
    /// When `values` is too short, `outputs > stride` or the bias is not one per output.
    fn checked(values: &'a mut [f32], stride: usize, rows: usize, outputs: usize, bias: Option<&'b [f32]>) -> Self {
        assert!(outputs <= stride && (rows == 0 || values.len() >= (rows - 1) * stride + outputs));
        if let Some(bias) = bias {
            assert_eq!(bias.len(), outputs, "one bias per output");
        }
        Self { values, stride, bias }
    }

    fn set(&mut self, row: usize, col: usize, sum: f32) {
        self.values[row * self.stride + col] = sum + self.bias.map_or(0.0, |b| b[col]);
    }
}

/// Visits the output in blocks of up to `block_rows × block_outs`: weight rows outermost (a block
/// of them stays in the L1 cache while every activation row passes), activation rows inside.
/// `block(r0, rn, c0, cn)` computes rows `r0..r0+rn` × outputs `c0..c0+cn`.
fn for_each_block(
    (rows, outs): (usize, usize),
    (block_rows, block_outs): (usize, usize),
    mut block: impl FnMut(usize, usize, usize, usize),
) {
    for c0 in (0..outs).step_by(block_outs) {
        let cn = block_outs.min(outs - c0);
        for r0 in (0..rows).step_by(block_rows) {
            block(r0, block_rows.min(rows - r0), c0, cn);
        }
    }
}

mod portable {
    use super::{for_each_block, Output, Rows};

    /// Lanes summed side by side (the compiler maps them onto the target's vector registers).
    const LANES: usize = 8;

    pub(super) fn matmul_t(x: Rows<'_>, w: Rows<'_>, out: &mut Output<'_, '_>) {
        for_each_block((x.rows, w.rows), (3, 4), |r0, rn, c0, cn| {
            for c in c0..c0 + cn {
                for r in r0..r0 + rn {
                    out.set(r, c, dot(x.row(r), w.row(c)));
                }
            }
        });
    }

    /// A dot product in [`LANES`] independent partial sums.
    pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut lanes = [0.0f32; LANES];
        let (a_body, a_tail) = a.split_at(a.len() / LANES * LANES);
        let (b_body, b_tail) = b.split_at(a_body.len());
        for (a8, b8) in a_body.chunks_exact(LANES).zip(b_body.chunks_exact(LANES)) {
            for l in 0..LANES {
                lanes[l] += a8[l] * b8[l];
            }
        }
        lanes.iter().sum::<f32>() + a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum::<f32>()
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Output, Rows};
    use std::sync::OnceLock;

    /// The panel kernel this CPU runs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum PanelKernel {
        /// AVX-512F: 32-output panels, 8 rows a step (16 of the 32 registers accumulate).
        Avx512,
        /// AVX2 and FMA: 16-output panels, 6 rows a step (12 of the 16 registers accumulate).
        Avx2,
    }

    impl PanelKernel {
        /// The widest this CPU runs, if any (asked once per process). On the 2-core benchmark
        /// machine the AVX-512 kernel embeds LoCoMo turns ~12 % faster than the AVX2 one.
        pub(super) fn detected() -> Option<Self> {
            static DETECTED: OnceLock<Option<PanelKernel>> = OnceLock::new();
            *DETECTED.get_or_init(|| {
                if is_x86_feature_detected!("avx512f") {
                    Some(Self::Avx512)
                } else if dot::available() {
                    Some(Self::Avx2)
                } else {
                    None
                }
            })
        }

        /// Outputs per panel.
        pub(super) fn width(self) -> usize {
            match self {
                Self::Avx512 => avx512::PANEL,
                Self::Avx2 => avx2::PANEL,
            }
        }

        /// `x` times the weight packed in `panels` for this kernel, into `out`.
        ///
        /// # Safety
        /// The CPU must run this kernel ([`Self::detected`]); `panels` must be the packing of an
        /// `outputs × x.cols` weight for [`Self::width`].
        pub(super) unsafe fn apply(self, x: Rows<'_>, panels: &[f32], outputs: usize, out: &mut Output<'_, '_>) {
            // SAFETY: this function's contract.
            unsafe {
                match self {
                    Self::Avx512 => avx512::matmul_panels(x, panels, outputs, out),
                    Self::Avx2 => avx2::matmul_panels(x, panels, outputs, out),
                }
            }
        }
    }

    /// A panel kernel for one instruction set: `$vector` registers of `$lanes` floats, panels of
    /// two registers, `$rows` activation rows a step, weights asked for `$prefetch` steps ahead
    /// (the weights of a pass come from the shared cache or memory once per pass; the hardware
    /// prefetcher alone left the kernel waiting on them: passes of one text 25 → 20 ms per text
    /// with AVX2).
    macro_rules! panel_kernel {
        ($name:ident, $features:literal, $vector:ty, $lanes:literal, $rows:literal, $prefetch:literal,
         $zero:ident, $load:ident, $store:ident, $fmadd:ident, $splat:ident) => {
            pub(super) mod $name {
                use super::super::{Output, Rows};
                use std::arch::x86_64::*;

                /// Floats per register.
                const LANES: usize = $lanes;
                /// Outputs per panel.
                pub(crate) const PANEL: usize = 2 * LANES;
                /// Activation rows per step.
                const ROWS: usize = $rows;
                /// Steps ahead at which the weights are asked for.
                const PREFETCH: usize = $prefetch;

                /// # Safety
                /// The CPU has the instructions of `target_feature`; `panels` is the packing of an
                /// `outputs × x.cols` weight in panels of [`PANEL`].
                #[target_feature(enable = $features)]
                pub(crate) unsafe fn matmul_panels(
                    x: Rows<'_>,
                    panels: &[f32],
                    outputs: usize,
                    out: &mut Output<'_, '_>,
                ) {
                    let k = x.cols;
                    assert_eq!(panels.len(), outputs.div_ceil(PANEL) * PANEL * k, "a packed {outputs}×{k} weight");
                    for (j, panel) in panels.chunks_exact(PANEL * k.max(1)).enumerate() {
                        let (c0, cn) = (j * PANEL, PANEL.min(outputs - j * PANEL));
                        for r0 in (0..x.rows).step_by(ROWS) {
                            // SAFETY: the instructions are there; rows r0..r0+rn exist; the panel
                            // holds PANEL × k values.
                            unsafe {
                                match ROWS.min(x.rows - r0) {
                                    1 => block::<1>(x, r0, panel, c0, cn, out),
                                    2 => block::<2>(x, r0, panel, c0, cn, out),
                                    3 => block::<3>(x, r0, panel, c0, cn, out),
                                    4 => block::<4>(x, r0, panel, c0, cn, out),
                                    5 => block::<5>(x, r0, panel, c0, cn, out),
                                    6 => block::<6>(x, r0, panel, c0, cn, out),
                                    7 => block::<7>(x, r0, panel, c0, cn, out),
                                    _ => block::<ROWS>(x, r0, panel, c0, cn, out),
                                }
                            }
                        }
                    }
                }

                /// Rows `r0..r0+R` of `x` times one panel, into outputs `c0..c0+cn`.
                ///
                /// # Safety
                /// The instructions are there; those rows exist; `panel` holds [`PANEL`] × `x.cols` values.
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn block<const R: usize>(
                    x: Rows<'_>,
                    r0: usize,
                    panel: &[f32],
                    c0: usize,
                    cn: usize,
                    out: &mut Output<'_, '_>,
                ) {
                    let mut xp = [std::ptr::null::<f32>(); R];
                    for (r, p) in xp.iter_mut().enumerate() {
                        *p = x.row(r0 + r).as_ptr();
                    }
                    let wp = panel.as_ptr();
                    let mut acc: [[$vector; 2]; R] = [[$zero(); 2]; R];
                    for p in 0..x.cols {
                        // SAFETY: p < x.cols, the length of every row; the panel holds PANEL values
                        // per p (a prefetch may point past it: it is a hint and never faults).
                        unsafe {
                            _mm_prefetch::<_MM_HINT_T0>(wp.wrapping_add((p + PREFETCH) * PANEL) as *const i8);
                            let w0 = $load(wp.add(p * PANEL));
                            let w1 = $load(wp.add(p * PANEL + LANES));
                            for r in 0..R {
                                let xb = $splat(*xp[r].add(p));
                                acc[r][0] = $fmadd(xb, w0, acc[r][0]);
                                acc[r][1] = $fmadd(xb, w1, acc[r][1]);
                            }
                        }
                    }
                    let mut sums = [0.0f32; PANEL];
                    for (r, pair) in acc.iter().enumerate() {
                        // SAFETY: `sums` holds two registers' worth of floats.
                        unsafe {
                            $store(sums.as_mut_ptr(), pair[0]);
                            $store(sums.as_mut_ptr().add(LANES), pair[1]);
                        }
                        for (c, &sum) in sums.iter().enumerate().take(cn) {
                            out.set(r0 + r, c0 + c, sum);
                        }
                    }
                }
            }
        };
    }

    panel_kernel!(
        avx512,
        "avx512f",
        __m512,
        16,
        8,
        32,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_fmadd_ps,
        _mm512_set1_ps
    );
    panel_kernel!(
        avx2,
        "avx2,fma",
        __m256,
        8,
        6,
        64,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_fmadd_ps,
        _mm256_set1_ps
    );

    /// The dot-product kernel of [`super::matmul_t`] with AVX2 and FMA.
    pub(super) mod dot {
        use super::super::{for_each_block, Output, Rows};
        use super::OnceLock;
        use std::arch::x86_64::*;

        /// Rows of activations per block: 3 × 4 accumulators, 3 activation registers and one
        /// for the weights fill the 16 vector registers.
        const ROWS: usize = 3;
        /// Weight rows (outputs) per block.
        const OUTS: usize = 4;
        /// Floats per register.
        const LANES: usize = 8;

        /// Whether this CPU has AVX2 and FMA (asked once per process).
        pub(crate) fn available() -> bool {
            static AVAILABLE: OnceLock<bool> = OnceLock::new();
            *AVAILABLE.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
        }

        /// # Safety
        /// The CPU must have AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn matmul_t(x: Rows<'_>, w: Rows<'_>, out: &mut Output<'_, '_>) {
            for_each_block((x.rows, w.rows), (ROWS, OUTS), |r0, rn, c0, cn| {
                // SAFETY: AVX2 and FMA are there (this function's contract); each block reads
                // rows r0..r0+rn of x and c0..c0+cn of w, which exist.
                unsafe {
                    match (rn, cn) {
                        (3, OUTS) => block::<3, OUTS>(x, r0, w, c0, out),
                        (2, OUTS) => block::<2, OUTS>(x, r0, w, c0, out),
                        (1, OUTS) => block::<1, OUTS>(x, r0, w, c0, out),
                        _ => {
                            for c in c0..c0 + cn {
                                for r in r0..r0 + rn {
                                    block::<1, 1>(x, r, w, c, out);
                                }
                            }
                        }
                    }
                }
            });
        }

        /// Sums rows `r0..r0+R` of `x` against rows `c0..c0+C` of `w` into `out`.
        ///
        /// # Safety
        /// AVX2 and FMA are there; those rows exist.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn block<const R: usize, const C: usize>(
            x: Rows<'_>,
            r0: usize,
            w: Rows<'_>,
            c0: usize,
            out: &mut Output<'_, '_>,
        ) {
            let k = x.cols;
            let body = k / LANES * LANES;
            let mut xp = [std::ptr::null::<f32>(); R];
            for (r, p) in xp.iter_mut().enumerate() {
                *p = x.row(r0 + r).as_ptr();
            }
            let mut wp = [std::ptr::null::<f32>(); C];
            for (c, p) in wp.iter_mut().enumerate() {
                *p = w.row(c0 + c).as_ptr();
            }
            let mut acc = [[_mm256_setzero_ps(); C]; R];
            let mut xv = [_mm256_setzero_ps(); R];
            let mut p = 0;
            while p < body {
                // SAFETY: p + LANES <= body <= k, the length of every row read.
                unsafe {
                    for r in 0..R {
                        xv[r] = _mm256_loadu_ps(xp[r].add(p));
                    }
                    for c in 0..C {
                        let wv = _mm256_loadu_ps(wp[c].add(p));
                        for r in 0..R {
                            acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
                        }
                    }
                }
                p += LANES;
            }
            for r in 0..R {
                for c in 0..C {
                    let mut sum = horizontal_sum(acc[r][c]);
                    for q in body..k {
                        // SAFETY: q < k.
                        unsafe { sum += *xp[r].add(q) * *wp[c].add(q) };
                    }
                    out.set(r0 + r, c0 + c, sum);
                }
            }
        }

        #[target_feature(enable = "avx2,fma")]
        #[inline]
        fn horizontal_sum(v: __m256) -> f32 {
            let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
            _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn naive(x: Rows<'_>, w: Rows<'_>, bias: Option<&[f32]>) -> Vec<f32> {
        let mut out = vec![0.0; x.rows * w.rows];
        for i in 0..x.rows {
            for j in 0..w.rows {
                let dot: f64 = x.row(i).iter().zip(w.row(j)).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
                out[i * w.rows + j] = dot as f32 + bias.map_or(0.0, |b| b[j]);
            }
        }
        out
    }

    #[test]
    fn every_shape_matches_the_plain_definition() {
        // Shapes around the block sizes and the 8-lane width, with and without a bias.
        for (m, n, k) in [(1, 1, 1), (3, 4, 8), (7, 9, 19), (35, 13, 384), (2, 5, 1536), (4, 384, 32)] {
            let (xs, ws, bias) = (values(m * k, 1), values(n * k, 2), values(n, 3));
            let (x, w) = (Rows::dense(&xs, k), Rows::dense(&ws, k));
            for b in [None, Some(bias.as_slice())] {
                let want = naive(x, w, b);
                let mut got = vec![0.0; m * n];
                matmul_t(x, w, b, &mut got, n);
                let mut portable = vec![0.0; m * n];
                portable::matmul_t(x, w, &mut Output { values: &mut portable, stride: n, bias: b });
                for (i, ((g, p), e)) in got.iter().zip(&portable).zip(&want).enumerate() {
                    assert!((g - e).abs() < 1e-3 && (p - e).abs() < 1e-3, "{m}×{n}×{k} [{i}]: {g} / {p}, want {e}");
                }
            }
        }
    }

    #[test]
    fn a_laid_out_weight_multiplies_as_the_plain_definition() {
        // Output counts around the panel widths (16, 32), row counts around the kernels' 6 and 8 rows.
        for (m, n, k) in [(1, 1, 3), (6, 16, 8), (7, 17, 19), (8, 32, 5), (13, 40, 384), (35, 1152, 32)] {
            let (xs, ws, bias) = (values(m * k, 4), values(n * k, 5), values(n, 6));
            let (x, w) = (Rows::dense(&xs, k), Rows::dense(&ws, k));
            for weight in every_layout(&ws, k, n) {
                assert_eq!(weight.outputs(), n);
                for b in [None, Some(bias.as_slice())] {
                    let want = naive(x, w, b);
                    let mut got = vec![f32::NAN; m * (n + 2)];
                    weight.apply(x, b, &mut got, n + 2);
                    for i in 0..m {
                        for j in 0..n {
                            let (g, e) = (got[i * (n + 2) + j], want[i * n + j]);
                            assert!((g - e).abs() < 1e-3, "{m}×{n}×{k} [{i},{j}]: {g}, want {e}");
                        }
                        assert!(got[i * (n + 2) + n].is_nan(), "nothing is written past the outputs");
                    }
                }
            }
        }
    }

    /// The weight laid out for every kernel this CPU runs, and as stored.
    fn every_layout(rows: &[f32], inputs: usize, outputs: usize) -> Vec<Weight> {
        #[cfg(target_arch = "x86_64")]
        {
            let mut kernels = vec![None];
            if x86::dot::available() {
                kernels.push(Some(x86::PanelKernel::Avx2));
            }
            if x86::PanelKernel::detected() == Some(x86::PanelKernel::Avx512) {
                kernels.push(Some(x86::PanelKernel::Avx512));
            }
            kernels.into_iter().map(|k| Weight::for_kernel(rows.to_vec(), inputs, outputs, k)).collect()
        }
        #[cfg(not(target_arch = "x86_64"))]
        vec![Weight::for_kernel(rows.to_vec(), inputs, outputs)]
    }

    #[test]
    fn strided_views_read_only_their_columns_and_write_only_their_place() {
        // Two rows of 3 values inside rows of 5, into an output whose rows are 4 apart.
        let xs = [1.0, 2.0, 3.0, 99.0, 99.0, 4.0, 5.0, 6.0];
        let ws = [1.0, 0.0, 1.0, 99.0, 99.0, 0.0, 1.0, 0.0];
        let mut out = [-7.0; 6];
        matmul_t(Rows::new(&xs, 2, 3, 5), Rows::new(&ws, 2, 3, 5), None, &mut out, 4);
        assert_eq!(out, [4.0, 2.0, -7.0, -7.0, 10.0, 5.0]);
    }
}
