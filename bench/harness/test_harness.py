"""Tests of the harness's own bookkeeping (no plugin, no database, no model server needed).

    cd bench && python -m unittest harness.test_harness      (with the tools venv's Python)

The model server's answers are held to the reference by harness/fake_model_check.py (it needs the
server running; every bench/run.sh runs it) and by `cargo test` in bench/fake-model."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest


def _tmp(case: unittest.TestCase, prefix: str) -> str:
    d = tempfile.mkdtemp(prefix=prefix)
    case.addCleanup(shutil.rmtree, d, True)
    return d

from . import aggregate, report
from .cpu import CpuMeter
from .experiments import Ctx
from .model_script import Reference, script_tables
from .stacks import Stack


class CpuMeterTest(unittest.TestCase):
    def test_a_child_that_burns_cpu_and_ends_counts_as_plugin(self):
        meter = CpuMeter(model_pid=None, pg_pid=None, noise_limit=0.1)
        burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
        subprocess.run([sys.executable, "-c", burn], check=True)  # started, ended and reaped inside the measurement
        c = meter.done()
        plugin_s = c["cores"]["plugin"] * c["wall_s"]
        self.assertGreaterEqual(plugin_s, 0.28)
        self.assertLess(plugin_s, 0.6)  # the interpreter's own start adds a little
        self.assertIsNone(c["cores"]["postgres"])
        self.assertEqual(c["noisy"], c["cores"]["other"] > 0.1)
        self.assertEqual(len(c["loadavg_before"]), 3)


class QuietDisciplineTest(unittest.TestCase):
    def setUp(self):
        self.out = _tmp(self, "bench-test-")
        self.stack = Stack("rust", ["x"], None, describe="test")
        self.noisy = {"cpu": {"cores": {"other": 0.5}, "noisy": True}}

    def ctx(self, require_quiet):
        return Ctx(self.out, self.out, self.out, "http://127.0.0.1:9", {}, 384, require_quiet=require_quiet)

    def test_noisy_is_marked_and_published_by_default(self):
        self.ctx(False).save(self.stack, "exp", dict(self.noisy))
        with open(os.path.join(self.out, "rust", "exp.json")) as f:
            self.assertTrue(json.load(f)["noisy"])

    def test_require_quiet_refuses_to_publish_and_drops_the_older_result(self):
        self.ctx(False).save(self.stack, "exp", {"runs": [{"cpu": {"cores": {"other": 0.0}, "noisy": False}}]})
        with self.assertRaisesRegex(RuntimeError, "not published"):
            self.ctx(True).save(self.stack, "exp", {"runs": [self.noisy]})
        files = sorted(os.listdir(os.path.join(self.out, "rust")))
        self.assertEqual(files, ["exp.noisy.json"])


class AggregateTest(unittest.TestCase):
    def test_median_spread_and_noisy_over_sets(self):
        sets = []
        for i, (rate, noisy) in enumerate(((300.0, False), (400.0, True), (350.0, False))):
            d = _tmp(self, f"bench-set{i}-")
            os.makedirs(os.path.join(d, "rust"))
            with open(os.path.join(d, "rust", "async_add_0ms.json"), "w") as f:
                json.dump({"noisy": noisy, "median": {"applied_adds_per_s": rate, "llm_calls_per_add": 1.0},
                           "runs": [{"i": i}], "stack": "rust"}, f)
            with open(os.path.join(d, "machine.json"), "w") as f:
                json.dump({"rust": {"started": f"s{i}", "finished": f"f{i}"}}, f)
            sets.append(d)
        out = _tmp(self, "bench-out-")
        aggregate.aggregate(sets, out)
        with open(os.path.join(out, "rust", "async_add_0ms.json")) as f:
            merged = json.load(f)
        self.assertEqual(merged["median"]["applied_adds_per_s"], 350.0)
        self.assertTrue(merged["noisy"])
        self.assertEqual(merged["runs"], [{"i": 0}])
        self.assertEqual(merged["repeat"], {"sets": 3, "spread": {"median/applied_adds_per_s": [300.0, 400.0]}})
        with open(os.path.join(out, "machine.json")) as f:
            self.assertEqual([s["started"] for s in json.load(f)["rust"]["repeat_sets"]], ["s0", "s1", "s2"])
        text = report.spread_section({"python": {}, "rust": {"async_add_0ms": merged}})
        self.assertIn("| async adds applied/s, 0 ms model, one at a time | — | 350.00 (300.00–400.00) |", text)


class ReportTest(unittest.TestCase):
    def test_cpu_table_marks_noisy_measurements(self):
        cpu = {"wall_s": 2.0, "cores": {"plugin": 0.5, "postgres": 0.7, "fake_model": 0.07, "driver": 0.1,
                                        "machine": 1.9, "other": 0.53},
               "loadavg_before": [1.0, 1, 1], "loadavg_after": [1.5, 1, 1], "noisy": True}
        data = {"python": {}, "rust": {"sync_add_0ms": {"cpu": cpu}, "async_add_0ms": {"runs": [{"cpu": cpu}]}}}
        text = report.cpu_section(data)
        self.assertIn("| rust/sync_add_0ms | 2.00 | 0.50 | 0.70 | 0.07 | 0.10 | 0.53 | 1.90 | 1.00 → 1.50 | **noisy** |",
                      text)
        self.assertIn("| rust/async_add_0ms |", text)


class Issue18TargetsTest(unittest.TestCase):
    def test_each_target_gets_its_verdict_and_unmeasured_ones_say_so(self):
        from . import targets18
        notes = _tmp(self, "targets18-")
        with open(os.path.join(notes, targets18.NOTES), "w") as f:
            f.write("Why the misses: a written reason.\n")

        def search(p50, p95):
            return {"own_overhead": {"p50_ms": p50, "p95_ms": p95}}

        data = {"_results": notes,
                "python": {"async_add_0ms_pipelined": {"median": {"applied_adds_per_s": 40.0}}},
                "rust": {"search_1000": search(0.7, 1.5), "search_10000": search(0.9, 2.0),
                         "search_100000": search(1.4, 2.9),
                         "async_add_0ms": {"median": {"ack.p95_ms": 1.9, "plugin_cpu_ms_per_add": 1.2}},
                         "async_add_0ms_pipelined": {"median": {"applied_adds_per_s": 500.0}},
                         "growth_1000": {"semantic": {"recall_at_k_mean": 1.0}},
                         "growth_1000000": {"semantic": {"recall_at_k_mean": 1.0}}}}
        text = targets18.section(data)
        self.assertIn("| search own overhead p50 ≤ 0.8 ms at 1k (pgvector, hybrid) | 0.70 ms | **met** |", text)
        self.assertIn("| search own overhead p50 ≤ 0.8 ms at 10k (pgvector, hybrid) | 0.90 ms | **missed** |", text)
        self.assertIn("| search own overhead p95 ≤ 3 ms at 1k / 10k / 100k | 1.50 ms / 2.00 ms / 2.90 ms | **met** |", text)
        self.assertIn("12.5× (500 vs 40.0 adds/s) | **met** |", text)
        self.assertIn("| async adds applied/s ≥ 1,000 when the fake model is not the limit | 500 adds/s | **missed** |", text)
        self.assertIn("| plugin CPU per async add ≤ 1 ms | 1.20 ms | **missed** |", text)
        self.assertIn("| async add ACK p95 ≤ 2 ms (0 ms model) | 1.90 ms | **met** |", text)
        self.assertIn("(search own overhead p50, same queries, interleaved) | — | not measured |", text)
        self.assertIn("(vector search; 1k / 1M) | 1.000 / 1.000 | **met** |", text)
        self.assertIn("Why the misses: a written reason.", text)


class EmbeddedReportTest(unittest.TestCase):
    @staticmethod
    def result(p50, p95, **extra):
        return {"own_overhead": {"p50_ms": p50, "p95_ms": p95}, "latency": {"p50_ms": p50 + 0.5},
                "plugin_cpu_ms_per_search": 0.4, "recall_at_k_mean": 1.0, "first_search_ms": 35.0,
                "rss_end_kib": 20480, "noisy": False, **extra}

    def data(self, emb, pg):
        fill = {"adds": 10000, "applied_s": 20.0, "applied_adds_per_s": 500.0, "window": 16,
                "plugin_cpu_ms_per_add": 0.3, "store_bytes": 30 * 1024 * 1024}
        return {"python": {}, "rust": {"search_embedded_10000": dict(emb, data={"filled_through_plugin": fill}),
                                       "search_embedded_10000_pgvector": pg}}

    def target(self, data):
        from . import targets18
        return next(t for t in targets18.rows(data) if t[0] == report.EMBEDDED_TARGET)

    def test_the_section_has_both_stores_and_the_verdict(self):
        data = self.data(self.result(0.8, 1.2), self.result(1.0, 1.5, noisy=True))
        text = report.embedded_section(data)
        self.assertIn("| 10k | embedded | 0.80 / 1.20 | 1.30 | 0.40 | 1.000 | 35.0 | 20.0 |", text)
        self.assertIn("| 10k | pgvector (**noisy**) | 1.00 / 1.50 | 1.50 |", text)
        self.assertIn("filled with 10,000 adds in 20.0 s (500 adds/s applied, 16 in flight", text)
        self.assertIn("0.80 / 1.20 ms vs pgvector 1.00 / 1.50 ms: **met** (embedded ÷ pgvector: p50 0.80×, p95 0.80×)",
                      text)
        self.assertEqual(self.target(data)[2], "**met**")
        self.assertIn("## Search on the embedded store beside pgvector", report.render(data, None))

    def test_the_p50_decides_and_nothing_measured_says_so(self):
        data = self.data(self.result(0.8, 1.6), self.result(1.0, 1.5))
        self.assertEqual(self.target(data)[2], "**met**")
        self.assertIn("**met** (embedded ÷ pgvector: p50 0.80×, p95 1.07×)", report.embedded_section(data))
        data = self.data(self.result(1.1, 1.2), self.result(1.0, 1.5))
        self.assertEqual(self.target(data)[2], "**missed**")
        self.assertEqual(report.embedded_section({"python": {}, "rust": {}}), "")
        self.assertEqual(self.target({"python": {}, "rust": {}})[2], "not measured")


class ReferenceRulesTest(unittest.TestCase):
    def test_decisions_and_counters(self):
        tables = script_tables({"turns": [{"user": "I just moved to Porto.",
                                           "facts": [{"slot": "city", "text": "Lives in Porto"}]},
                                          {"user": "I live in Lisbon.", "facts": [{"slot": "city", "text": "Lives in Lisbon"}]}]})
        ref = Reference(tables)
        prompt = ('Stored memories (JSON): [{"id": "7", "text": "Lives in Lisbon"}]\n'
                  'New facts (JSON): ["Lives in Porto", "Plays chess"]')
        code, body = ref.handle("POST", "/v1/chat/completions", json.dumps(
            {"messages": [{"role": "user", "content": prompt}]}).encode())
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body["choices"][0]["message"]["content"])["memory"], [
            {"id": "7", "text": "Lives in Porto", "event": "UPDATE", "old_memory": "Lives in Lisbon"},
            {"id": "new", "text": "Plays chess", "event": "ADD"}])
        self.assertEqual(ref.handle("GET", "/admin/stats", b"")[1]["stats"]["llm_update"]["calls"], 1)


if __name__ == "__main__":
    unittest.main()


class BreakdownTest(unittest.TestCase):
    def test_span_totals_become_phases_per_operation_with_the_rest_left_over(self):
        from . import breakdown, breakdown_report

        def s(ms):
            return {"count": 2, "total_ms": ms}

        paths = {
            "dify.read": s(0.2), "dify.parse_line": s(0.2), "dify.session/dify.parse_data": s(0.2),
            "dify.session/dify.credentials": s(0.4), "dify.session/dify.tool/dify.params": s(0.2),
            "dify.session/dify.tool/app.read/app.embed": s(3.0),
            "dify.session/dify.tool/app.read/app.retrieve": s(2.0),
            "dify.session/dify.tool/app.read/app.retrieve/pg.checkout": s(0.4),
            "dify.session/dify.tool/app.read/app.retrieve/pg.query": s(1.2),
            "dify.session/dify.tool/dify.shape": s(0.2), "dify.session/dify.encode": s(0.2), "dify.write": s(0.2),
            "pg.checkout": s(9.0), "write/app.embed": s(9.0),  # the writer's own roots: not the search's
        }
        got = breakdown.phases({"paths": paths}, 2, breakdown.REQUEST_ROOTS, own_ms=5.0, model_ms={"embed": 0.5})
        self.assertAlmostEqual(got["read_parse"], 0.3)
        self.assertAlmostEqual(got["validation"], 0.3)
        self.assertAlmostEqual(got["embed"], 1.0)  # 3.0 / 2 − 0.5 of model time
        self.assertAlmostEqual(got["checkout"], 0.2)
        self.assertAlmostEqual(got["sql"], 0.8)  # the store call (1.0) − its checkout (0.2)
        self.assertAlmostEqual(got["reply"], 0.2)
        self.assertAlmostEqual(got["rest"], 5.0 - (0.3 + 0.3 + 1.0 + 0.2 + 0.8 + 0.1 + 0.2))
        result = {"phases": [[k, label] for k, label, _ in breakdown.PHASES],
                  "ops": {"search": {"ops": 2, "phases": got, "latency": {"p50_ms": 5.5, "mean_ms": 5.5},
                                     "model_ms": {"embed": 0.5}}}}
        text = breakdown_report.section(result)
        self.assertIn("| SQL (store calls − checkout) | 0.800 |", text)
        self.assertTrue(text.startswith(breakdown_report.START) and text.rstrip().endswith(breakdown_report.END))
