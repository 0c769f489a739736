"""Median of several full result sets (bench/run.sh --repeat N), written as one result set.

    python -m harness.aggregate --out bench/results SET1 SET2 SET3

Every results/<stack>/<experiment>.json (and tables.json, install_rust.json) found in the sets is
merged: each number outside a list becomes the median over the sets that have the file, `noisy` is
true when any set was noisy, lists and text come from the first set; the merged file gets
`repeat = {"sets": n, "spread": {"a/b/c": [min, max]}}` for every number that varied. machine.json
is the first set's with `repeat_sets` (each set's start and finish) added. The report then renders
the medians and a spread table."""
import argparse
import json
import os
import statistics


def merge(objs: list, spread: dict, path: str = ""):
    """The median tree of `objs` (same shape; see the module doc); varying numbers go into `spread`."""
    first = objs[0]
    if isinstance(first, dict):
        out = {}
        for k, v in first.items():
            if path == "" and k == "repeat":
                continue
            present = [o[k] for o in objs if isinstance(o, dict) and k in o]
            out[k] = merge(present, spread, f"{path}/{k}" if path else k) if len(present) > 1 else v
        return out
    if isinstance(first, bool):
        return any(o is True for o in objs) if path.split("/")[-1] == "noisy" else first
    if isinstance(first, (int, float)):
        nums = [o for o in objs if isinstance(o, (int, float)) and not isinstance(o, bool)]
        if min(nums) != max(nums):
            spread[path] = [min(nums), max(nums)]
        m = statistics.median(nums)
        return round(m, 3) if isinstance(m, float) else m
    return first


def _load(path: str):
    with open(path) as f:
        return json.load(f)


def aggregate(sets: list[str], out: str) -> list[str]:
    """Writes the merged files into `out`; returns their paths relative to it."""
    written = []
    names = set()
    for s in sets:
        for root, _, files in os.walk(s):
            rel = os.path.relpath(root, s)
            if rel.startswith("logs"):
                continue
            names.update(os.path.normpath(os.path.join(rel, f)) for f in files
                         if f.endswith(".json") and not f.endswith((".error.json", ".noisy.json")))
    for name in sorted(names):
        objs = [_load(os.path.join(s, name)) for s in sets if os.path.exists(os.path.join(s, name))]
        if name == "machine.json":  # the runs' keys replace the same keys of earlier runs, as harness.run does
            dest = os.path.join(out, name)
            merged = _load(dest) if os.path.exists(dest) else {}
            for key, info in objs[0].items():
                info["repeat_sets"] = [{"started": o.get(key, {}).get("started"), "finished": o.get(key, {}).get("finished")}
                                       for o in objs]
                merged[key] = info
        else:
            spread = {}
            merged = merge(objs, spread)
            if isinstance(merged, dict) and os.path.dirname(name):
                merged["repeat"] = {"sets": len(objs), "spread": spread}
        dest = os.path.join(out, name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as f:
            json.dump(merged, f, indent=1)
        for stale in (dest[:-5] + ".error.json", dest[:-5] + ".noisy.json"):
            if os.path.exists(stale):
                os.remove(stale)
        written.append(name)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("sets", nargs="+")
    a = ap.parse_args()
    written = aggregate(a.sets, a.out)
    print(f"median of {len(a.sets)} result sets -> {a.out}: {len(written)} files")


if __name__ == "__main__":
    main()
