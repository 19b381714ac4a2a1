"""export_data.py — weights and rows for testing an exported PyTorch script
(tests/run_export.sh): the script's module built with a seeded PyTorch,
every tensor of its state_dict perturbed so no default (batch norm's ones
and zeros) hides a mistake, saved with torch.save (a .pth file); and random
CSV rows of the model's inputs (integers in range for an int input).

    /usr/bin/python3 export_data.py MODEL.py WEIGHTS.pth ROWS.csv NROWS SEED
"""
import importlib.util
import random
import sys

import torch


def main(argv):
    script, weights, rows_path, nrows, seed = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    spec = importlib.util.spec_from_file_location("exported", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(seed)
    model = mod.MODEL_CLASS()
    sd = model.state_dict()
    with torch.no_grad():
        for name, t in sd.items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                t.normal_(0.0, 0.2)
            else:
                t.add_(torch.randn_like(t) * 0.1)
    torch.save(sd, weights)
    # int inputs index tables: below their bound, else the smallest embedding's size
    vocab = min([m.num_embeddings for m in model.modules() if isinstance(m, torch.nn.Embedding)] or [2])
    rng = random.Random(seed)
    with open(rows_path, "w") as f:
        for _ in range(nrows):
            cells = []
            for _, shape, is_int, below in mod.INPUTS:
                n = 1
                for d in shape:
                    n *= d
                if is_int:
                    cells += [str(rng.randrange(below or vocab)) for _ in range(n)]
                else:
                    cells += ["%.6g" % rng.uniform(-2.0, 2.0) for _ in range(n)]
            f.write(",".join(cells) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
