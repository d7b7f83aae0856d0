"""The benchmark's outputs for people: the paper's Table IV form and the epoch-time figure."""

from __future__ import annotations

import math

from youngvae.bench import ceiling

# The paper's Table IV (Section V): TensorFlow + Keras with Intel MKL on one node, 2048
# training samples of 256², float32 (see docs/paper.md).
PAPER_TABLE_IV = {
    "rows": [
        {"machine": "Sandy Bridge EP", "cores": 16, "ram_gb": 62, "s_per_epoch": 300.0, "s_per_10_epochs": 3027.0},
        {"machine": "Haswell", "cores": 36, "ram_gb": 126, "s_per_epoch": 256.0, "s_per_10_epochs": 2566.0},
        {"machine": "Skylake", "cores": 48, "ram_gb": 192, "s_per_epoch": 257.0, "s_per_10_epochs": 2576.0},
    ],
    "note": "TensorFlow + Keras with Intel MKL, one node, multithreaded (thread count not stated), float32",
}
PAPER_S_PER_EPOCH_RANGE = (
    min(r["s_per_epoch"] for r in PAPER_TABLE_IV["rows"]),
    max(r["s_per_epoch"] for r in PAPER_TABLE_IV["rows"]),
)


def _fmt(value, digits=1):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _status(row: dict) -> str:
    note = row.get("note")
    if not isinstance(note, str) or not note or row["status"] == "ok":
        return str(row["status"])
    return note if note.startswith(str(row["status"])) else f"{row['status']}: {note}"


def speedup_vs_float32_keras(row: dict, records: list[dict]) -> float | None:
    """Baseline step time / this row's: the baseline is plain Keras on TensorFlow, float32, no
    XLA, same batch size and threads, from the same benchmark run (None where it is absent)."""
    for base in records:
        if (base["backend"], base["trainer"], base["precision"], bool(base["xla"])) == (
            "tensorflow", "keras", "float32", False
        ) and (base["batch_size"], base["intra_threads"]) == (row["batch_size"], row["intra_threads"]):
            num, den = base.get("s_per_step_median"), row.get("s_per_step_median")
            if num is not None and den is not None and math.isfinite(num) and math.isfinite(den) and den > 0:
                return num / den
    return None


def table_iv_markdown(table, machine: dict) -> str:
    """The paper's Table IV form: s per epoch and per 10 epochs, ours beside the paper's."""
    lines = [
        "# Table IV: training time",
        "",
        f"This machine: {machine['cpu_model']}, {machine['cores']} cores "
        f"({', '.join(machine['flags']) or 'no AVX-512'}), {machine['ram_gib']} GiB RAM, "
        f"GPU: {machine['gpu'] or 'none'}; TensorFlow {machine['versions'].get('tensorflow')}, "
        f"Keras {machine['versions'].get('keras')}.",
        "",
        "| machine | backend | trainer | precision | XLA | batch | threads (intra/inter) "
        "| s / epoch | s / 10 epochs | s / epoch incl. validation | × TF Keras float32 | GFLOP/s "
        "| of probe | of ISA peak | peak RSS MB | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ] + [
        f"| paper: {p['machine']}, {p['cores']} cores, {p['ram_gb']} GB | TensorFlow 1 / Keras 2 "
        f"| keras | float32 | – | – | – | {p['s_per_epoch']:.0f} | {p['s_per_10_epochs']:.0f} "
        "| – | – | – | – | – | – | paper |"
        for p in PAPER_TABLE_IV["rows"]
    ]
    records = table.to_dict("records")
    for r in records:
        lines.append(
            f"| this machine | {r['backend']} | {r['trainer']} | {r['precision']} "
            f"| {'on' if r['xla'] else 'off'} | {r['batch_size']} | {r['intra_threads']}/{r['inter_threads']} "
            f"| {_fmt(r['s_per_epoch'])} | {_fmt(r['s_per_10_epochs'], 0)} | {_fmt(r['s_per_epoch_incl_val'])} "
            f"| {_fmt(speedup_vs_float32_keras(r, records), 2)} "
            f"| {_fmt(r['gflops'], 0)} | {_fmt(r['fraction_of_probe'], 2)} "
            f"| {_fmt(r.get('fraction_of_isa_peak'), 2)}{_unit(r)} | {_fmt(r['peak_rss_mb'], 0)} "
            f"| {_status(r)} |"
        )
    lines += [
        "",
        f"Paper rows: {PAPER_TABLE_IV['note']}.",
        "",
        "s / epoch = median steady-state seconds per training step × ceil(n_train / batch) "
        f"(n_train = {table['n_train'].iloc[0] if len(table) else '–'}, images "
        f"{table['image_size'].iloc[0] if len(table) else '–'}²), each setting in a fresh process, "
        "repeated and interleaved; GFLOP/s from the hand-counted train FLOPs per sample; "
        "'of probe' = that over the convolution probe in the same compute dtype; "
        "'× TF Keras float32' = that setting's step time over this row's (same batch and threads); "
        "'of ISA peak' = GFLOP/s over the measured ceiling of the fastest unit the setting's "
        "arithmetic may use (named in brackets; AMX tiles where the CPU has them; below).",
        "",
    ] + _isa_floor_lines(table, machine.get("isa_peak"))
    return "\n".join(lines)


def _unit(row: dict) -> str:
    unit = row.get("isa_peak_unit")
    return f" ({unit})" if isinstance(unit, str) and unit else ""


def _isa_floor_lines(table, isa: dict | None) -> list[str]:
    """The measured ISA ceiling and the epoch time it implies (the floor for this arithmetic)."""
    if not isa or isa.get("status") != "ok":
        status = (isa or {}).get("status", "not measured")
        return [f"ISA peak: {status}.", ""]
    ok = table[table["status"].isin(["ok", "partial"])] if len(table) else table
    lines = ["ISA peak (independent multiply-add chains in C, `youngvae.bench.ceiling`, median of "
             f"{isa['repeats']}), GFLOP/s: "
             + "; ".join(f"{k} " + ", ".join(f"{g:.0f} on {t} thread(s)" for t, g in by_t.items())
                         for k, by_t in isa["gflops"].items()) + "."]
    if len(ok):
        flop = float(ok["gflop_per_sample"].iloc[0]) * 1e9
        n_train = int(ok["n_train"].iloc[0])
        floors = []
        for precision in sorted(set(ok["precision"])):
            for threads in sorted(set(ok["intra_threads"])):
                found = ceiling.ceiling_for(isa, precision, int(threads))
                if found:
                    floors.append(f"{precision} on {threads} thread(s): "
                                  f"{ceiling.epoch_floor_s(flop, n_train, found[0]):.3g} s ({found[1]})")
        if floors:
            lines.append(f"So one epoch ({n_train} samples × {flop / 1e9:.2f} GFLOP) cannot take less "
                         "than, at 100 % of that peak: " + "; ".join(floors) + ".")
    return lines + [""]


def plot_benchmark(table, path) -> None:
    """s per epoch against intra-op threads, one line per backend/trainer/precision/XLA/batch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    ok = table[table["status"].isin(["ok", "partial"])]
    groups = list(ok.groupby(["backend", "trainer", "precision", "xla", "batch_size"]))
    colors = plt.get_cmap("tab20")
    markers = {"tensorflow": "o", "torch": "s", "jax": "^"}
    for i, (key, group) in enumerate(groups):
        backend, trainer, precision, xla, batch = key
        group = group.sort_values("intra_threads")
        label = f"{backend} {trainer} {precision}{' XLA' if xla else ''} bs{batch}"
        ax.plot(group["intra_threads"], group["s_per_epoch"], marker=markers.get(backend, "o"),
                linestyle="--" if xla else "-", color=colors(i % 20), label=label)
    lo, hi = PAPER_S_PER_EPOCH_RANGE
    ax.axhspan(lo, hi, color="0.85", label=f"paper: {lo:.0f}–{hi:.0f} s (16–48-core Xeons)")
    threads = sorted(ok["intra_threads"].unique()) if len(ok) else [1]
    ax.set_xticks([int(t) for t in threads])
    if len(threads) == 1:
        ax.set_xlim(threads[0] - 1, threads[0] + 1)
    ax.set_xlabel("intra-op threads")
    ax.set_ylabel(f"s per epoch ({int(table['n_train'].iloc[0]) if len(table) else '?'} samples)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
