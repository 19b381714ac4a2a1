#!/usr/bin/python3
"""bench W8: the GPT of bench/nnet/w8_gpt.nnet (context 64, 4 layers, 4 heads,
width 128, vocabulary 256, lm_head tied to wte) — one AdamW training step at
batch 8, and generation in tokens per second — nnc against PyTorch eager and
TorchScript in the same run, one thread.

    /usr/bin/python3 bench/w8_gpt.py NNC WORK [SECONDS] [ROUNDS]

NNC is an nnc binary (a Release build), WORK a scratch folder. Prints
`RESULT W8<part> <impl> <value>` lines and a markdown table (stdout);
NNC_BENCH_CLOCK=cpu times samples in process CPU time (a shared machine).

Generation is timed in the two regimes of the sampling loop of LANGUAGE.md
§10 / nanoGPT's generate(): `fill`, 63 new tokens after a one-byte prompt
(the window grows from 1 to 64 positions: nnc's key/value cache computes one
position per token, PyTorch's loop the whole window), and `slide`, 256 more
tokens after a full window (each token moves every position, so both
recompute the 64-position window: the cache cannot help without changing the
numbers). nnc's time is the CPU (or wall) time of `PROG generate` processes
minus that of `--tokens 0` (start-up, loading), the fastest of 9 each;
PyTorch's the loop alone, sampling included (softmax, multinomial).
Training-step and generation FLOPs count 2 per multiply-add of the linear layers, the attention's two
products (all T×T for the step's forward, as computed; the generation's
causal half) and the head; a training step is 3× its forward.
"""
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_bench import median_call_s  # noqa: E402

V, T, E, H, L, B = 256, 64, 128, 4, 4, 8
CPU = os.environ.get("NNC_BENCH_CLOCK") == "cpu"


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(E), nn.LayerNorm(E)
        self.attn = nn.MultiheadAttention(E, H, batch_first=True)
        self.fc, self.proj = nn.Linear(E, 4 * E), nn.Linear(4 * E, E)

    def forward(self, x, mask: torch.Tensor):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, E), nn.Embedding(T, E)
        self.h = nn.ModuleList([Block() for _ in range(L)])
        self.ln_f = nn.LayerNorm(E)
        self.lm_head = nn.Linear(E, V, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        t = idx.shape[1]
        mask = ~torch.ones(t, t, dtype=torch.bool).tril()
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for b in self.h:
            x = b(x, mask)
        return self.lm_head(self.ln_f(x))


def flops_forward_token(keys):
    """FLOPs of one position's forward attending to `keys` positions."""
    return 2 * (L * (12 * E * E + 2 * keys * E) + V * E)


STEP_FLOPS = 3 * B * T * flops_forward_token(T)
FILL_FLOPS = sum(flops_forward_token(p + 1) for p in range(1, 64)) / 63      # per token, cached
SLIDE_FLOPS = 2 * (T * (L * 12 * E * E + V * E) + L * 2 * E * T * (T + 1) // 2)  # per token: a window


def torch_step(model, seconds):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, V, (B, T), generator=g)
    y = torch.randint(0, V, (B, T), generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1)).backward()
        opt.step()
    return median_call_s(step, seconds)


def torch_generate(model, prompt_len, tokens, rounds):
    """nanoGPT's loop: crop to the last T, forward, last row, softmax, multinomial."""
    clock = time.process_time if CPU else time.perf_counter
    g = torch.Generator().manual_seed(1)
    best = []
    for _ in range(rounds):
        idx = torch.randint(0, V, (1, prompt_len), generator=g)
        with torch.no_grad():           # as nanoGPT's generate()
            t0 = clock()
            for _ in range(tokens):
                logits = model(idx[:, -T:])[:, -1, :]
                nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=g)
                idx = torch.cat((idx, nxt), dim=1)
            best.append(tokens / (clock() - t0))
    best.sort()
    return best[len(best) // 2]


def child_time(cmd, env):
    """CPU (or wall) seconds of one child process."""
    r0, w0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
    r1, w1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    return (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) if CPU else w1 - w0


def nnc_generate(prog, prompt, tokens, cache=True):
    env = dict(os.environ)
    if not cache:
        env["NNR_NO_KV_CACHE"] = "1"
    base = [prog, "generate", "--prompt", prompt, "--seed", "1"]
    # the fastest of 9 runs each (start-up dominates a short run: its noise
    # would swamp the difference otherwise)
    t0 = min(child_time(base + ["--tokens", "0"], env) for _ in range(9))
    t1 = min(child_time(base + ["--tokens", str(tokens)], env) for _ in range(9))
    return tokens / max(t1 - t0, 1e-9)


def nnc_step(prog, seconds):
    out = subprocess.run([prog, "bench", "--train", "--batch", str(B), "--seconds", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    return float([ln for ln in out.splitlines() if ln.startswith("median_us=")][-1].split()[0].split("=")[1])


def peak(work):
    exe = os.path.join(work, "machine")
    subprocess.run(["cc", "-std=c11", "-O3", "-march=native", "-o", exe, os.path.join(HERE, "machine.c")],
                   check=True)
    out = subprocess.run([exe, "0.3"], capture_output=True, text=True, check=True).stdout
    best = [float(ln.split()[2]) for ln in out.splitlines() if ln.startswith("PEAK best")]
    name = [ln[len("MACHINE name "):] for ln in out.splitlines() if ln.startswith("MACHINE name")]
    return max(best), name[0] if name else "?"


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    nnc, work = argv[1], argv[2]
    seconds = float(argv[3]) if len(argv) > 3 else 2.0
    rounds = int(argv[4]) if len(argv) > 4 else 3
    os.makedirs(work, exist_ok=True)
    prog = os.path.join(work, "w8_gpt")
    subprocess.run([nnc, "build", os.path.join(HERE, "nnet", "w8_gpt.nnet"), "-o", prog], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pk, cpu = peak(work)
    torch.manual_seed(0)
    model = Gpt()
    res = {}    # (part, impl) -> value
    try:
        scripted = torch.jit.script(Gpt())
    except Exception as e:  # noqa: BLE001
        scripted = None
        print("SKIP W8 torchscript: %s" % str(e).splitlines()[0])
    for _ in range(rounds):     # interleaved rounds, medians kept
        for impl, fn in [("nnc", lambda: nnc_step(prog, seconds) * 1e-6),
                         ("pytorch", lambda: torch_step(model, seconds)),
                         ("torchscript", (lambda: torch_step(scripted, seconds)) if scripted else None)]:
            if fn:
                res.setdefault(("step", impl), []).append(fn())
        for part, plen, n in [("fill", 1, 63), ("slide", 64, 256)]:
            res.setdefault((part, "nnc"), []).append(nnc_generate(prog, "a" * plen, n))
            res.setdefault((part, "nnc-recompute"), []).append(nnc_generate(prog, "a" * plen, n, cache=False))
            res.setdefault((part, "pytorch"), []).append(torch_generate(model.eval(), plen, n, 1))
            if scripted:
                res.setdefault((part, "torchscript"), []).append(torch_generate(scripted.eval(), plen, n, 1))
            model.train()
    med = {k: sorted(v)[len(v) // 2] for k, v in res.items()}
    for (part, impl), v in sorted(med.items()):
        print("RESULT W8%s %s %.6g" % (part, impl, v * 1e6 if part == "step" else v))
    clock = "process CPU time (NNC_BENCH_CLOCK=cpu)" if CPU else "wall time"
    print("\n## W8: GPT (context 64, 4 layers, 4 heads, width 128, vocab 256, tied head)\n")
    print("%s; one core's fp32 FMA peak %.1f GFLOP/s (bench/machine.c); torch %s, 1 thread; "
          "%d rounds, medians; samples in %s.\n" % (cpu, pk, torch.__version__, rounds, clock))
    print("| | nnc | nnc without cache | PyTorch eager | TorchScript | nnc / eager |")
    print("|---|---|---|---|---|---|")
    s = {i: med.get(("step", i)) for i in ("nnc", "pytorch", "torchscript")}
    fr = lambda t: "%.1f ms (%.0f%% of peak)" % (t * 1e3, 100 * STEP_FLOPS / t / (pk * 1e9)) if t else "-"  # noqa: E731
    print("| training step, batch 8 (%.2f GFLOP) | %s | | %s | %s | %.2f× faster |" % (
        STEP_FLOPS / 1e9, fr(s["nnc"]), fr(s["pytorch"]), fr(s["torchscript"]), s["pytorch"] / s["nnc"]))
    for part, what, fl in [("fill", "generation, window filling (63 tokens)", FILL_FLOPS),
                           ("slide", "generation, window full (256 tokens)", SLIDE_FLOPS)]:
        g = {i: med.get((part, i)) for i in ("nnc", "nnc-recompute", "pytorch", "torchscript")}
        ft = lambda r: "%.0f tok/s (%.1f%% of peak)" % (r, 100 * r * fl / (pk * 1e9)) if r else "-"  # noqa: E731
        print("| %s | %s | %s | %s | %s | %.1f× |" % (what, ft(g["nnc"]), ft(g["nnc-recompute"]), ft(g["pytorch"]),
                                                    ft(g["torchscript"]), g["nnc"] / g["pytorch"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
