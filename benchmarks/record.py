"""The benchmark's output: the table, the machine and the git state of a record."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess

import numpy as np
import torch
from workload import REPO


def fmt_s(s):
    if s is None:
        return "–"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_x(x):
    return "–" if x is None else f"{x:.2f} ×"


def fmt_mb(mb):
    return "n.a." if mb is None else f"{mb:.0f} MiB"


def table(rows):
    head = "| row | what | target | package | reference / baseline | ratio | target met? | note |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [
            r["row"],
            r["what"],
            r["target"],
            fmt_s(r["package_s"]),
            fmt_s(r["reference_s"]),
            fmt_x(r["ratio"]),
            r["met"],
            r["note"],
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def machine(device):
    info = dict(
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        numpy=np.__version__,
        threads=torch.get_num_threads(),
        cpu_count=os.cpu_count(),
    )
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    if torch.device(device).type == "cuda":
        info.update(
            gpu=torch.cuda.get_device_name(device),
            cuda=torch.version.cuda,
            allow_tf32=torch.backends.cuda.matmul.allow_tf32,
        )
    return info


def git_state():
    def git(*a):
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()

    try:
        return dict(commit=git("rev-parse", "HEAD"), dirty=bool(git("status", "--porcelain", "--untracked-files=no")))
    except (OSError, subprocess.SubprocessError):
        return dict(commit=None, dirty=None)


def write(out, record, text, summary, started):
    """The record as ``out/<date>-<device>-<size>.json`` and ``.md`` (its table under a header)."""
    out.mkdir(parents=True, exist_ok=True)
    dev = record["machine"].get("gpu", "cpu")
    stem = f"{started:%Y-%m-%d}-{re.sub(r'[^A-Za-z0-9]+', '-', dev).strip('-').lower()}-{record['size']}"
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    m = record["machine"]
    header = (
        f"# Benchmark, size `{record['size']}`, device `{record['device']}` ({dev})\n\n"
        f"- date: {record['date']}\n- command: `{record['command']}`\n"
        f"- git commit: {record['git']['commit']}"
        f"{' (with uncommitted changes)' if record['git']['dirty'] else ''}\n"
        f"- machine: {m['cpu']}, {m['cpu_count']} CPUs, {m['threads']} torch threads, torch {m['torch']}"
        + (f", CUDA {m.get('cuda')}" if "gpu" in m else "")
        + "\n"
        f"- load average (1 min) before / after: {record['load_average_before'][0]:.2f} / "
        f"{record['load_average_after'][0]:.2f}\n"
        f"- total {record['total_s']:.0f} s; {summary}\n\n"
    )
    (out / f"{stem}.md").write_text(header + text + "\n")
    print(f"record: {out / stem}.json, .md")
