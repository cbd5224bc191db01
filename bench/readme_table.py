"""Print the README's benchmark table from ``python -m relukit bench --json FILE``.

    python bench/readme_table.py FILE.json

One row per op and variant, one column per size: NumPy / relukit (default dispatch) / the
fastest peer of the row (PyTorch, numexpr or JAX, named), then NumPy time / relukit time
and best-peer time / relukit time; a second ratio below 1.00x is a loss to that peer.
"""
import json
import sys

VARIANTS = {"forward in place": "in place", "forward out of place": "out of place",
            "forward + mask": "+ mask", "backward": "backward"}
PEERS = ("torch", "numexpr", "jax")


def fmt(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            v = seconds / scale
            return f"{v:.3g} {unit}"


def cell_text(cell):
    res = cell["results"]
    ok = lambda k: k in res and not res[k].get("error") and res[k].get("median_s")  # noqa: E731
    if not ok("relukit") or not ok("numpy"):
        return "-"
    ours, base = res["relukit"]["median_s"], res["numpy"]["median_s"]
    peers = [(res[p]["median_s"], p) for p in PEERS if ok(p)]
    text = f"{fmt(base)} / **{fmt(ours)}** / "
    if peers:
        t, name = min(peers)
        return text + f"{fmt(t)} {name} ({base / ours:.1f}x, {t / ours:.2f}x)"
    return text + f"- ({base / ours:.1f}x)"


def main(path):
    data = json.load(open(path))
    rows, sizes = {}, []
    for cell in data["cells"]:
        key = (cell["op"], VARIANTS.get(cell["variant"], cell["variant"]))
        rows.setdefault(key, {})[cell["n"]] = cell_text(cell)
        if cell["n"] not in sizes:
            sizes.append(cell["n"])
    sizes.sort()
    head = " | ".join(f"n = 10^{len(str(n)) - 1}" for n in sizes)
    print(f"| op | variant | {head} |")
    print("|---|---|" + "---|" * len(sizes))
    for (op, variant), per in rows.items():
        print(f"| {op} | {variant} | " + " | ".join(per.get(n, "-") for n in sizes) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
