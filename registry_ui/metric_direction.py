"""Which way is better for a metric: higher (ndcg, accuracy, auc) or lower (loss, error, latency).

Used by the champion comparison's colours, the chart's axis label and the validation gate. The default
comes from the metric's name: lower-is-better when one of its words (split at `_ - . / :` and camelCase) is
in LOWER_WORDS (loss, error, latency, mae/rmse…, nll, fid, ece, mase/crps…, time, false as in
false_positive_rate, miss, divergence, drift …) or in the lower_is_better list, or ends with a unit (`_ms`,
`_seconds`) or has one before `per` (`ms_per_step`); an exact name listed in higher_is_better (or
lower_is_better) overrides the words. The lists: the configuration file's [metrics] section, else the
METRICS_LOWER_IS_BETTER / METRICS_HIGHER_IS_BETTER settings (configuration.selectors.metric_names).
sklearn's `neg_…` scores (`neg_log_loss`) are higher-is-better. A gate policy may also set the direction
of its own metric.
"""

from __future__ import annotations

import re

from configuration.selectors import metric_names_cached

HIGHER = "higher"
LOWER = "lower"
DIRECTIONS = (HIGHER, LOWER)

LOWER_WORDS = frozenset(
    {
        "loss",
        "logloss",
        "error",
        "errors",
        "err",
        "latency",
        "mae",
        "mse",
        "rmse",
        "msle",
        "rmsle",
        "mape",
        "smape",
        "wape",
        "perplexity",
        "nll",  # negative log-likelihood
        "bpd",  # bits per dimension
        "fid",  # Fréchet inception distance
        "ece",  # expected calibration error
        "eer",  # equal error rate
        "mase",  # forecasting: mean absolute scaled error, root mean squared scaled error, CRPS, quantile loss
        "rmsse",
        "crps",
        "wql",
        "pinball",
        "wer",
        "cer",
        "fpr",
        "fnr",
        "brier",
        "hamming",
        "duration",
        "cost",
        "regret",
        "false",  # false_positive_rate, false_negatives, false_alarms
        "miss",  # miss_rate
        "misses",
        "time",  # inference_time, train_time_s, time_to_first_token
        "divergence",  # kl_divergence
        "drift",
    }
)
# Units: lower-is-better as a unit (the last word, `p95_ms`, or before `per`, `ms_per_step`), not as any other
# word (`ms_marco_mrr_at_10` is MS MARCO's MRR, higher-is-better).
UNIT_WORDS = frozenset({"ms", "seconds", "secs", "sec", "minutes", "hours"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_words(metric: str) -> list[str]:
    """`val_RMSE@10`, `trainLoss`, `p95-latency.ms` → lower-case words."""
    return [w for w in re.split(r"[^a-z0-9]+", _CAMEL.sub("_", metric).lower()) if w]


def metric_direction(metric: str, override: str = "") -> str:
    """HIGHER or LOWER for `metric`; `override` (a gate policy's explicit choice) wins when set."""
    if override in DIRECTIONS:
        return override
    names = metric_names_cached()
    higher = {n.strip() for n in names["higher_is_better"] if n.strip()}
    lower = {n.strip().lower() for n in names["lower_is_better"] if n.strip()}
    if metric in higher:
        return HIGHER
    if metric.lower() in lower:
        return LOWER
    words = name_words(metric)
    if words and words[0] == "neg":
        return HIGHER
    if any(w in LOWER_WORDS or w in lower for w in words):
        return LOWER
    units = [i for i, w in enumerate(words) if w in UNIT_WORDS]
    return LOWER if any(i == len(words) - 1 or words[i + 1] == "per" for i in units) else HIGHER


def improvement_pct(metric: str, champion: float | None, candidate: float | None, direction: str = "") -> float | None:
    """How much better the candidate is than the champion, in % of the champion (negative: worse)."""
    if champion is None or candidate is None or champion == 0:
        return None
    change = (candidate - champion) / abs(champion) * 100.0
    return -change if metric_direction(metric, direction) == LOWER else change
