//! The application's tunables ([`AppSettings`]) from the environment snapshot of the settings
//! loader (the process environment over `.env`). Unset variables keep the defaults of the user's
//! guide; a variable of the wrong form is an error naming it.
//!
//! | variable | default | what |
//! |---|---|---|
//! | `MEM0_DIFY_WRITE_LEASE_SECS` | 30 | how long a claimed write stays reserved without renewal (recovery delay after a crash) |
//! | `MEM0_DIFY_WRITE_LEASE_RENEWAL_SECS` | 10, or a third of a shorter lease | how often leases are renewed (below the lease) |
//! | `MEM0_DIFY_WRITE_POLL_SECS` | 2 | how often an idle writer looks for due writes |
//! | `MEM0_DIFY_WRITE_RETRY_BASE_SECS` | 0.5 | first retry delay of a write that failed transiently (doubles, at most 60 s) |
//! | `MEM0_DIFY_WRITE_MAX_ATTEMPTS` | 10 | attempts before a transient failure is recorded as final |
//! | `MEM0_DIFY_MAX_PENDING_WRITES` | 1000 | accepted writes waiting before new writes are answered "busy" |
//! | `MEM0_DIFY_MAX_CONCURRENT_WRITES` | 5 | writes applied at once |
//! | `MEM0_DIFY_MAX_CONCURRENT_READS` | 32 | reads served at once |
//! | `MEM0_DIFY_SEARCH_TIMEOUT_SECS` | 60 | search ceiling before an empty `degraded` answer |
//! | `MEM0_DIFY_GET_ALL_TIMEOUT_SECS` | 60 | get-all ceiling |
//! | `MEM0_DIFY_GET_TIMEOUT_SECS` | 30 | get ceiling (also bounds recording an accepted write) |
//! | `MEM0_DIFY_HISTORY_TIMEOUT_SECS` | 30 | history ceiling |
//! | `MEM0_DIFY_SYNC_WRITE_TIMEOUT_SECS` | 120 | ceiling of a write in sync mode |
//! | `MEM0_DIFY_VALIDATE_TIMEOUT_SECS` | 25 | ceiling of credential validation |
//! | `MEM0_DIFY_REPEAT_WINDOW_SECS` | 120 | the same add (same scope and messages, or `idempotency_key`) received again within it is answered with the first write, not written again; `0` turns it off |

use mem0_dify::adapters::registry::Environment;
use mem0_dify::app::api::AppSettings;
use std::time::Duration;

/// Why a variable was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A variable has a value of the wrong form.
    #[error("{name}={value:?} is invalid: expected {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The lease renewal period is not shorter than the lease.
    #[error(
        "MEM0_DIFY_WRITE_LEASE_RENEWAL_SECS ({renewal:?}) must be shorter than MEM0_DIFY_WRITE_LEASE_SECS ({lease:?})"
    )]
    RenewalNotShorter {
        /// The lease.
        lease: Duration,
        /// The renewal period.
        renewal: Duration,
    },
}

/// The settings the variables of `env` give.
pub fn app_settings(env: &Environment) -> Result<AppSettings, EnvError> {
    let get = |name: &str| env.var(name).map(|v| v.trim().to_owned());
    let secs = |name: &'static str, default: Duration| -> Result<Duration, EnvError> {
        let Some(raw) = get(name) else { return Ok(default) };
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 && v < 1.0e9 => Ok(Duration::from_secs_f64(v)),
            _ => Err(EnvError::Invalid { name, value: raw, expected: "a positive number of seconds" }),
        }
    };
    let count = |name: &'static str, default: usize| -> Result<usize, EnvError> {
        let Some(raw) = get(name) else { return Ok(default) };
        match raw.parse::<usize>() {
            Ok(v) if v > 0 && v <= u32::MAX as usize => Ok(v),
            _ => Err(EnvError::Invalid { name, value: raw, expected: "a whole number above 0" }),
        }
    };
    let mut settings = AppSettings::default();
    let writer = &mut settings.writer;
    writer.lease = secs("MEM0_DIFY_WRITE_LEASE_SECS", writer.lease)?;
    let default_renewal = writer.renewal.min(writer.lease / 3);
    writer.renewal = secs("MEM0_DIFY_WRITE_LEASE_RENEWAL_SECS", default_renewal)?;
    if writer.renewal >= writer.lease {
        return Err(EnvError::RenewalNotShorter { lease: writer.lease, renewal: writer.renewal });
    }
    writer.poll = secs("MEM0_DIFY_WRITE_POLL_SECS", writer.poll)?;
    writer.retry_base = secs("MEM0_DIFY_WRITE_RETRY_BASE_SECS", writer.retry_base)?;
    writer.max_attempts = count("MEM0_DIFY_WRITE_MAX_ATTEMPTS", writer.max_attempts as usize)? as u32;
    settings.queue_capacity = count("MEM0_DIFY_MAX_PENDING_WRITES", settings.queue_capacity)?;
    settings.write_concurrency = count("MEM0_DIFY_MAX_CONCURRENT_WRITES", settings.write_concurrency)?;
    settings.read_concurrency = count("MEM0_DIFY_MAX_CONCURRENT_READS", settings.read_concurrency)?;
    let t = &mut settings.timeouts;
    t.search = secs("MEM0_DIFY_SEARCH_TIMEOUT_SECS", t.search)?;
    t.get_all = secs("MEM0_DIFY_GET_ALL_TIMEOUT_SECS", t.get_all)?;
    t.get = secs("MEM0_DIFY_GET_TIMEOUT_SECS", t.get)?;
    t.history = secs("MEM0_DIFY_HISTORY_TIMEOUT_SECS", t.history)?;
    t.sync_write = secs("MEM0_DIFY_SYNC_WRITE_TIMEOUT_SECS", t.sync_write)?;
    t.validate = secs("MEM0_DIFY_VALIDATE_TIMEOUT_SECS", t.validate)?;
    settings.repeat_window = match get("MEM0_DIFY_REPEAT_WINDOW_SECS").as_deref() {
        Some("0") => Duration::ZERO,
        _ => secs("MEM0_DIFY_REPEAT_WINDOW_SECS", settings.repeat_window)?,
    };
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<AppSettings, EnvError> {
        app_settings(&Environment::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn unset_variables_keep_the_defaults() {
        let s = settings(&[]).unwrap();
        let d = AppSettings::default();
        assert_eq!(s.writer, d.writer);
        assert_eq!(s.timeouts, d.timeouts);
        assert_eq!((s.queue_capacity, s.write_concurrency, s.read_concurrency), (1000, 5, 32));
    }

    #[test]
    fn every_variable_is_read() {
        let s = settings(&[
            ("MEM0_DIFY_WRITE_LEASE_SECS", "2"),
            ("MEM0_DIFY_WRITE_POLL_SECS", "0.1"),
            ("MEM0_DIFY_WRITE_RETRY_BASE_SECS", "0.05"),
            ("MEM0_DIFY_WRITE_MAX_ATTEMPTS", "3"),
            ("MEM0_DIFY_MAX_PENDING_WRITES", "50"),
            ("MEM0_DIFY_MAX_CONCURRENT_WRITES", "8"),
            ("MEM0_DIFY_MAX_CONCURRENT_READS", "4"),
            ("MEM0_DIFY_SEARCH_TIMEOUT_SECS", "3"),
            ("MEM0_DIFY_GET_ALL_TIMEOUT_SECS", "4"),
            ("MEM0_DIFY_GET_TIMEOUT_SECS", "5"),
            ("MEM0_DIFY_HISTORY_TIMEOUT_SECS", "6"),
            ("MEM0_DIFY_SYNC_WRITE_TIMEOUT_SECS", "7"),
            ("MEM0_DIFY_VALIDATE_TIMEOUT_SECS", "8"),
        ])
        .unwrap();
        assert_eq!(s.writer.lease, Duration::from_secs(2));
        // Without an explicit renewal, a short lease is renewed three times per period.
        assert_eq!(s.writer.renewal, Duration::from_secs(2) / 3);
        assert_eq!(s.writer.poll, Duration::from_millis(100));
        assert_eq!(s.writer.retry_base, Duration::from_millis(50));
        assert_eq!(s.writer.max_attempts, 3);
        assert_eq!((s.queue_capacity, s.write_concurrency, s.read_concurrency), (50, 8, 4));
        let t = s.timeouts;
        let secs: Vec<u64> =
            [t.search, t.get_all, t.get, t.history, t.sync_write, t.validate].iter().map(Duration::as_secs).collect();
        assert_eq!(secs, vec![3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = settings(&[("MEM0_DIFY_WRITE_LEASE_SECS", "soon")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MEM0_DIFY_WRITE_LEASE_SECS=\"soon\" is invalid: expected a positive number of seconds"
        );
        let err = settings(&[("MEM0_DIFY_MAX_PENDING_WRITES", "0")]).unwrap_err();
        assert!(err.to_string().starts_with("MEM0_DIFY_MAX_PENDING_WRITES=\"0\""), "{err}");
        let err =
            settings(&[("MEM0_DIFY_WRITE_LEASE_SECS", "5"), ("MEM0_DIFY_WRITE_LEASE_RENEWAL_SECS", "5")]).unwrap_err();
        assert!(matches!(err, EnvError::RenewalNotShorter { .. }), "{err}");
        assert!(settings(&[("MEM0_DIFY_SEARCH_TIMEOUT_SECS", "-1")]).is_err());
        assert!(settings(&[("MEM0_DIFY_SEARCH_TIMEOUT_SECS", "NaN")]).is_err());
    }

    #[test]
    fn the_repeat_window_is_read_and_zero_turns_it_off() {
        assert_eq!(settings(&[]).unwrap().repeat_window, Duration::from_secs(120));
        assert_eq!(settings(&[("MEM0_DIFY_REPEAT_WINDOW_SECS", "30")]).unwrap().repeat_window, Duration::from_secs(30));
        assert_eq!(settings(&[("MEM0_DIFY_REPEAT_WINDOW_SECS", "0")]).unwrap().repeat_window, Duration::ZERO);
        let err = settings(&[("MEM0_DIFY_REPEAT_WINDOW_SECS", "later")]).unwrap_err();
        assert!(err.to_string().starts_with("MEM0_DIFY_REPEAT_WINDOW_SECS=\"later\""), "{err}");
    }
}
