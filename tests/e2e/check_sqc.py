#!/usr/bin/env python3
"""End-to-end checks of the `sqc` tool on the real shared model.

  check_sqc.py SQC ppl MODEL TEXT EXPECTED [--tokenizer F] [--max-tokens N]
  check_sqc.py SQC generate MODEL EXPECTED_PREFIX [--tokenizer F]
  check_sqc.py SQC import-generate MODEL EXPECTED_PREFIX [--tokenizer F]
  check_sqc.py SQC quantize HF_LLAMA_DIR TEXT TOKENS [--calib-text FILE] (LEVEL SMOOTH MIN% MAX%)...
      Injects outliers into a copy of the model (its FP32 perplexity must not
      change), then for each group quantizes it at LEVEL (SMOOTH: smooth or
      naive; calibrated on TEXT, or FILE) and checks that the perplexity
      change from FP32 on TEXT lies in [MIN%, MAX%].
  check_sqc.py SQC variants MODEL TEXT TOKENS [--calib-text FILE] ("QUANTIZE FLAGS" MIN% MAX%)...
      Quantizes MODEL with each set of flags (calibrated on TEXT, or FILE)
      and checks the written model's perplexity change from FP32 on TEXT.
  check_sqc.py SQC bit-budgets HF_LLAMA_DIR TEXT TOKENS INJECT BUDGETS "EVAL FLAGS"
      `sqc eval --bit-budgets BUDGETS` (calibrated on TEXT; on a copy with
      injected outliers when INJECT is `inject`): the Pareto perplexity
      falls as the budget grows, is never above the in-order one, and is
      below each uniform INT4 model's at the same size.
  check_sqc.py SQC engines MODEL TEXT TOKENS ("QUANTIZE FLAGS" MAX%)...
      For each group, the model quantized with those flags (`fp32`: as it
      is) evaluated by the JIT and by the reference interpreter: their
      perplexities must differ by at most MAX%.
  check_sqc.py SQC method-gap MODEL TEXT TOKENS INJECT REF METHOD ("EVAL FLAGS" MIN% MAX%)...
      For each group, `sqc eval --compare --methods REF,METHOD` with those
      flags (calibrated on TEXT; on a copy with injected outliers when
      INJECT is `inject`): METHOD's perplexity relative to REF's, in
      percent, must lie in [MIN%, MAX%].
  check_sqc.py SQC report MODEL TEXT TOKENS LAYER...
      `sqc eval --compare --report` (calibrated on TEXT): every layer of the
      per-layer SQNR table has a number for every variant, and the table
      has each LAYER named.

Exits 77 (ctest's skip code) when the shared data is absent, as in a user's
fresh clone."""
import os, re, subprocess, sys

def perplexity(sqc, model, text, tokens, flags=()):
    """`sqc eval`'s perplexity of MODEL on the first TOKENS of TEXT; None
    (after printing why) when it fails."""
    r = subprocess.run([sqc, "eval", model, "--text", text, "--max-tokens", tokens, *flags],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr)
        return None
    return float(re.search(r"^PPL:\s+([0-9.]+)", r.stdout, re.M).group(1))

def inject(sqc, model, folder):
    """A copy of MODEL with outliers injected (`sqc inject-outliers`), in
    FOLDER; None (after printing why) when it fails."""
    out = os.path.join(folder, "injected")
    r = subprocess.run([sqc, "inject-outliers", model, "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr)
        return None
    return out

def main():
    sqc, mode, model = sys.argv[1:4]
    rest = sys.argv[4:]
    opts = []  # trailing `--flag value` pairs, for the modes that pass them on
    while mode in ("ppl", "generate", "import-generate") and rest[-2:-1] and rest[-2].startswith("--"):
        opts = rest[-2:] + opts
        rest = rest[:-2]
    if not os.path.exists(model):
        print(f"SKIP: {model} is not present (../shared/data is ours, not the user's)")
        return 77
    if mode == "ppl":
        text, expected = rest[0], float(rest[1])
        out = subprocess.run([sqc, "eval", model, "--text", text] + opts,
                             capture_output=True, text=True)
        print(out.stdout)
        if out.returncode != 0:
            print(out.stderr)
            return 1
        ppl = float(re.search(r"^PPL:\s+([0-9.]+)", out.stdout, re.M).group(1))
        rel = abs(ppl - expected) / expected
        print(f"PPL {ppl} vs reference {expected}: {rel * 100:.4f}% off (limit 0.1%)")
        return 0 if rel <= 0.001 else 1
    if mode == "generate":
        expected = rest[0]
        out = subprocess.run([sqc, "generate", model, "-n", "80"] + opts,
                             capture_output=True, text=True)
        print(out.stdout, out.stderr)
        if out.returncode != 0:
            return 1
        return 0 if out.stdout.startswith(expected) else 1
    if mode == "import-generate":
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "model.sqir")
            r = subprocess.run([sqc, "import", model, "-o", out] + opts,
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(r.stderr)
                return 1
            gen = subprocess.run([sqc, "generate", out, "-n", "80"],
                                 capture_output=True, text=True)
            print(gen.stdout, gen.stderr)
            return 0 if gen.returncode == 0 and gen.stdout.startswith(rest[0]) else 1
    if mode == "quantize":
        import tempfile
        text, tokens = rest[0], rest[1]
        groups = rest[2:]
        calib = text
        if groups[:1] == ["--calib-text"]:
            calib, groups = groups[1], groups[2:]
        ppl = lambda m: perplexity(sqc, m, text, tokens)
        with tempfile.TemporaryDirectory() as d:
            inj = inject(sqc, model, d)
            if not inj:
                return 1
            base, injected = ppl(model), ppl(inj)
            print(f"FP32 {base}, with injected outliers {injected}")
            ok = base is not None and base == injected
            for i in range(0, len(groups), 4):
                level, smooth, lo, hi = groups[i], groups[i + 1], float(groups[i + 2]), float(groups[i + 3])
                out = os.path.join(d, f"q-{level}-{smooth}")
                args = [sqc, "quantize", inj, "--calib-text", calib, "--samples", "16",
                        "--level", level, "-o", out]
                if smooth == "naive":
                    args.append("--no-smooth")
                r = subprocess.run(args, capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stderr)
                    return 1
                q = ppl(os.path.join(out, "model.sqir"))
                change = (q / base - 1) * 100 if q else float("inf")
                good = lo <= change <= hi
                ok &= good
                print(f"{level} {smooth}: PPL {q} ({change:+.2f}%, want [{lo}, {hi}]) "
                      f"{'ok' if good else 'FAIL'}")
            return 0 if ok else 1
    if mode == "variants":
        # Each group: quoted `sqc quantize` flags, then the allowed range of
        # the perplexity change from FP32 (the written model, reloaded).
        import shlex, tempfile
        text, tokens = rest[0], rest[1]
        groups = rest[2:]
        calib = text
        if groups[:1] == ["--calib-text"]:
            calib, groups = groups[1], groups[2:]
        ppl = lambda m: perplexity(sqc, m, text, tokens)
        base = ppl(model)
        ok = base is not None
        with tempfile.TemporaryDirectory() as d:
            for i in range(0, len(groups), 3):
                flags, lo, hi = shlex.split(groups[i]), float(groups[i + 1]), float(groups[i + 2])
                out = os.path.join(d, f"v{i}")
                r = subprocess.run([sqc, "quantize", model, "--calib-text", calib, "--samples", "16",
                                    "-o", out] + flags, capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stderr)
                    return 1
                q = ppl(os.path.join(out, "model.sqir"))
                change = (q / base - 1) * 100 if q and base else float("inf")
                good = lo <= change <= hi
                ok &= good
                print(f"{groups[i]}: PPL {q} ({change:+.2f}%, want [{lo}, {hi}]) "
                      f"{'ok' if good else 'FAIL'}")
        return 0 if ok else 1
    if mode == "bit-budgets":
        import shlex, tempfile
        text, tokens, injecting, budgets = rest[0], rest[1], rest[2], rest[3]
        flags = shlex.split(rest[4])
        with tempfile.TemporaryDirectory() as d:
            if injecting == "inject":
                model = inject(sqc, model, d)
                if not model:
                    return 1
            r = subprocess.run([sqc, "eval", model, "--text", text, "--calib-text", text,
                                "--max-tokens", tokens, "--samples", "16",
                                "--bit-budgets", budgets] + flags,
                               capture_output=True, text=True)
        print(r.stdout)
        if r.returncode != 0:
            print(r.stderr)
            return 1
        num = r"(-?[0-9.]+)"
        rows = [tuple(float(x) for x in m.groups()) for m in re.finditer(
            rf"^{num}\s+{num}\s+{num}%\s+{num}\s+{num}%$", r.stdout, re.M)]
        uniform = [tuple(float(x) for x in m.groups()) for m in re.finditer(
            rf"^INT4 groups of \d+\s+{num}\s+{num}\s+{num}%\s+{num}\s+{num}\s+{num}%", r.stdout, re.M)]
        ok = len(rows) == len(budgets.split(",")) and bool(uniform)
        for lo, hi in zip(rows, rows[1:]):
            good = hi[1] < lo[1]
            ok &= good
            print(f"{lo[0]} -> {hi[0]} bits: Pareto PPL {lo[1]} -> {hi[1]} {'falls' if good else 'FAIL'}")
        for b, pareto, _, in_order, _ in rows:
            good = pareto <= in_order
            ok &= good
            print(f"{b} bits: Pareto {pareto} vs in order {in_order} {'ok' if good else 'FAIL'}")
        for mb, uni, _, _, pareto, _ in uniform:
            good = pareto < uni
            ok &= good
            print(f"{mb} MB: Pareto {pareto} vs uniform INT4 {uni} {'ok' if good else 'FAIL'}")
        return 0 if ok else 1
    if mode == "engines":
        import shlex, tempfile
        text, tokens, groups = rest[0], rest[1], rest[2:]
        ok = True
        with tempfile.TemporaryDirectory() as d:
            for i in range(0, len(groups), 2):
                flags, limit = groups[i], float(groups[i + 1])
                m = model
                if flags != "fp32":
                    m = os.path.join(d, f"v{i}")
                    r = subprocess.run([sqc, "quantize", model, "--calib-text", text,
                                        "--samples", "16", "-o", m] + shlex.split(flags),
                                       capture_output=True, text=True)
                    if r.returncode != 0:
                        print(r.stderr)
                        return 1
                    m = os.path.join(m, "model.sqir")
                jit = perplexity(sqc, m, text, tokens)
                interp = perplexity(sqc, m, text, tokens, ["--engine", "interp"])
                if jit is None or interp is None:
                    return 1
                diff = abs(jit / interp - 1) * 100
                good = diff <= limit
                ok &= good
                print(f"{flags}: JIT {jit}, interpreter {interp} ({diff:.3f}% apart, "
                      f"at most {limit}%) {'ok' if good else 'FAIL'}")
        return 0 if ok else 1
    if mode == "method-gap":
        import shlex, tempfile
        text, tokens, injecting, ref, method = rest[:5]
        groups = rest[5:]
        ok = True
        with tempfile.TemporaryDirectory() as d:
            if injecting == "inject":
                model = inject(sqc, model, d)
                if not model:
                    return 1
            for i in range(0, len(groups), 3):
                flags, lo, hi = groups[i], float(groups[i + 1]), float(groups[i + 2])
                r = subprocess.run([sqc, "eval", model, "--text", text, "--calib-text", text,
                                    "--max-tokens", tokens, "--samples", "16", "--compare",
                                    "--methods", f"{ref},{method}"] + shlex.split(flags),
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stderr)
                    return 1
                ppl = {m.group(1): float(m.group(2)) for m in re.finditer(
                    r"^(\S+) \S+ O\d\s+([0-9.]+)", r.stdout, re.M)}
                if ref not in ppl or method not in ppl:
                    print(r.stdout)
                    print(f"FAIL: no perplexity for {ref} or {method}")
                    return 1
                gap = (ppl[method] / ppl[ref] - 1) * 100
                good = lo <= gap <= hi
                ok &= good
                print(f"{flags}: {method} {ppl[method]} vs {ref} {ppl[ref]} ({gap:+.3f}%, "
                      f"want [{lo}, {hi}]) {'ok' if good else 'FAIL'}")
        return 0 if ok else 1
    if mode == "report":
        text, tokens, layers = rest[0], rest[1], rest[2:]
        r = subprocess.run([sqc, "eval", model, "--text", text, "--calib-text", text,
                            "--compare", "--report", "--max-tokens", tokens],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr)
            return 1
        lines = r.stdout.splitlines()
        start = next((i for i, l in enumerate(lines) if l.startswith("layer ")), None)
        if start is None:
            print(r.stdout)
            print("FAIL: no per-layer table")
            return 1
        rows = [l.split() for l in lines[start + 1:] if l.strip()]
        missing = [row[0] for row in rows if "-" in row[1:]]
        named = {row[0] for row in rows}
        ok = bool(rows) and not missing and all(l in named for l in layers)
        print(f"{len(rows)} layers; without a number: {missing or 'none'}; "
              f"wanted {layers}: {'ok' if ok else 'FAIL'}")
        return 0 if ok else 1
    print("unknown mode", mode)
    return 2

sys.exit(main())
