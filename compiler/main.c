/* main.c — the nnc command line: build | emit | check | ir | opt | summary | convert |
 * export | import | dot (or graph).
 * Exit status: 0 success, 1 an error in the user's input, 2 wrong usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "convert.h"
#include "import/import.h"
#include "backend/emit_llvm.h"
#include "nnr.h"

static const char usage[] =
    "usage: nnc COMMAND FILE.nnet [options]\n"
    "\n"
    "commands:\n"
    "  build FILE -o PROGRAM   compile to a standalone program, whose commands are\n"
    "                          infer | train | eval | bench | gradcheck | generate\n"
    "                          (PROGRAM --help; train --plot F.svg draws the curves)\n"
    "  emit FILE -o DIR        write embeddable C: DIR/NAME.h, DIR/NAME.c and the runtime\n"
    "                          (--with-loader: NAME_load.[ch], reading a weights file)\n"
    "  check FILE              report diagnostics only\n"
    "  ir FILE                 print the IR after the passes of the -O level\n"
    "  opt FILE.nir            read IR text, run the passes (--passes=...), print IR text\n"
    "  summary FILE            layers, shapes, parameters, FLOPs and memory\n"
    "  convert W.pth -o W.safetensors  a PyTorch state_dict (or safetensors) as safetensors\n"
    "  dot FILE [-o X.dot|X.svg]  the graph in Graphviz's DOT (svg/png/pdf through\n"
    "                          Graphviz's dot); with -O1/-O2 the graph after the passes\n"
    "  graph FILE [-o ...]     the same as dot\n"
    "  import MODEL.onnx -o DIR  an ONNX model as DIR/NAME.nnet and DIR/NAME.safetensors\n"
    "  export FILE --torch -o M.py  the model as a PyTorch nn.Module with the same\n"
    "                          parameter names, in a script: `python3 M.py WEIGHTS <\n"
    "                          rows.csv` prints what `PROGRAM infer --weights WEIGHTS`\n"
    "                          prints (inference only: eval mode; FILE a .nnet, or IR\n"
    "                          text before the optimisation passes)\n"
    "\n"
    "options:\n"
    "  -o PATH                 output program (build), folder (emit), script (export)\n"
    "  --torch                 export: write a PyTorch module (the one format)\n"
    "  --const T.pb            import: the graph input named by the ONNX tensor in T.pb\n"
    "                          becomes a constant of that value (repeatable)\n"
    "  --weights W.safetensors compile these parameters in (every tensor, strict;\n"
    "                          a PyTorch .pth state_dict too)\n"
    "  -O0 | -O1 | -O2         optimisation level (default -O2; -O3 and -O mean -O2)\n"
    "  --model NAME            which model of the file (default: the first)\n"
    "  --passes=a,b            run exactly these passes\n"
    "  --disable-pass=a,b      skip these passes\n"
    "  --print-after=PASS|all  print the IR after a pass (to stderr)\n"
    "  --time-passes           time each pass (to stderr)\n"
    "  --verify                check the IR after every pass\n"
    "  --dtype f32|bf16        build, emit: how linear weights are stored for inference\n"
    "                          (default f32); bf16 rounds them to bfloat16 (nearest\n"
    "                          even) and widens them in registers: fp32 arithmetic,\n"
    "                          half the weight bytes; training keeps fp32 weights\n"
    "  --march=ARCH            target of the C compiler (default native)\n"
    "  --portable              no -march: a program for any machine of this kind\n"
    "  --threads               build with OpenMP: large layers use every core\n"
    "                          (results are identical with any number of threads)\n"
    "  --keep                  keep the generated C of build (its folder is printed)\n"
    "  --mpi                   build: a program that trains data-parallel under\n"
    "                          `mpirun -np K PROGRAM train` (needs mpicc: Debian's\n"
    "                          libopenmpi-dev; $NNC_MPICC names another wrapper)\n"
    "  --backend=c|llvm        build, emit: the C backend (default), or LLVM IR through\n"
    "                          LLVM's C API (emit writes DIR/NAME.ll; nnc built with LLVM)\n"
    "  --with-loader           emit: also NAME_load.[ch] and the runtime's weights readers\n"
    "  --train                 ir: print the training graph (the forward, then the loss,\n"
    "                          backward and update nodes of the autodiff pass) and its\n"
    "                          memory plan instead; nnc opt reads it back\n"
    "  -h, --help              this message\n"
    "  --version               the version\n";

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "nnc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

static const char *joined(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = xcalloc(n, 1);
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *base = i == 0 && strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        strcat(s, base);
        if (i + 1 < argc)
            strcat(s, " ");
    }
    return s;
}

int main(int argc, char **argv)
{
    DriverOpts o;
    memset(&o, 0, sizeof o);
    o.pipe.opt_level = 2;
    o.pipe.verify = getenv("NNC_VERIFY") != NULL;
    o.cmdline = joined(argc, argv);
    const char *cmd = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("nnc %s\n", NNR_VERSION);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--weights") || !strcmp(a, "--model")) {
            if (i + 1 >= argc)
                return bad_usage("option %s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "-o")) o.output = v;
            else if (!strcmp(a, "--weights")) o.weights = v;
            else o.model = v;
        } else if (!strcmp(a, "--const")) {
            if (i + 1 >= argc)
                return bad_usage("option %s needs a value", a);
            if (o.nconsts == (int)(sizeof o.consts / sizeof o.consts[0]))
                return bad_usage("too many %s options", a);
            o.consts[o.nconsts++] = argv[++i];
        } else if (!strncmp(a, "--weights=", 10)) {
            o.weights = a + 10;
        } else if (!strcmp(a, "-O0") || !strcmp(a, "-O1") || !strcmp(a, "-O2")) {
            o.pipe.opt_level = a[2] - '0';
            o.opt_given = 1;
        } else if (!strcmp(a, "-O3") || !strcmp(a, "-O")) {
            o.pipe.opt_level = 2;
            o.opt_given = 1;
        } else if (!strncmp(a, "--passes=", 9)) {
            o.pipe.only = a + 9;
        } else if (!strncmp(a, "--disable-pass=", 15)) {
            o.pipe.disable = a + 15;
        } else if (!strncmp(a, "--print-after=", 14)) {
            o.pipe.print_after = a + 14;
        } else if (!strcmp(a, "--time-passes")) {
            o.pipe.time_passes = 1;
        } else if (!strcmp(a, "--verify")) {
            o.pipe.verify = 1;
        } else if (!strncmp(a, "--dtype=", 8) || !strcmp(a, "--dtype")) {
            const char *v = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : NULL;
            if (!v)
                return bad_usage("option %s needs a value", a);
            if (strcmp(v, "f32") && strcmp(v, "bf16"))
                return bad_usage("unknown dtype '%s' (f32 or bf16)", v);
            o.pipe.bf16 = !strcmp(v, "bf16");
        } else if (!strncmp(a, "--march=", 8)) {
            o.march = a + 8;
        } else if (!strcmp(a, "--portable")) {
            o.portable = 1;
        } else if (!strcmp(a, "--threads")) {
            o.threads = 1;
        } else if (!strcmp(a, "--keep")) {
            o.keep = 1;
        } else if (!strcmp(a, "--with-loader")) {
            o.with_loader = 1;
        } else if (!strcmp(a, "--mpi")) {
            o.mpi = 1;
        } else if (!strcmp(a, "--train")) {
            o.train = 1;
        } else if (!strcmp(a, "--torch")) {
            o.torch = 1;
        } else if (!strncmp(a, "--backend=", 10)) {
            if (strcmp(a + 10, "c") && strcmp(a + 10, "llvm"))
                return bad_usage("unknown backend '%s' (c or llvm)", a + 10);
            o.llvm = !strcmp(a + 10, "llvm");
            if (o.llvm && !emit_llvm_available()) {
                fprintf(stderr, "nnc: nnc was built without LLVM: --backend=llvm is not available\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            return bad_usage("unknown option '%s'", a);
        } else if (!cmd) {
            cmd = a;
        } else if (!o.input) {
            o.input = a;
        } else {
            return bad_usage("unexpected argument '%s'", a);
        }
    }
    if (!cmd)
        return bad_usage("%s", "no command given");
    int (*run)(const DriverOpts *) = NULL;
    int needs_output = 0;
    if (!strcmp(cmd, "build")) run = driver_build, needs_output = 1;
    else if (!strcmp(cmd, "emit")) run = driver_emit, needs_output = 1;
    else if (!strcmp(cmd, "check")) run = driver_check;
    else if (!strcmp(cmd, "ir")) run = driver_ir;
    else if (!strcmp(cmd, "opt")) run = driver_opt;
    else if (!strcmp(cmd, "summary")) run = driver_summary;
    else if (!strcmp(cmd, "convert")) run = convert_main, needs_output = 1;
    else if (!strcmp(cmd, "export")) run = driver_export, needs_output = 1;
    else if (!strcmp(cmd, "dot") || !strcmp(cmd, "graph")) run = driver_dot;
    else if (!strcmp(cmd, "import")) run = import_main, needs_output = 1;
    else return bad_usage("unknown command '%s'", cmd);
    if (!o.input)
        return bad_usage("%s needs a FILE.nnet", cmd);
    if (needs_output && !o.output)
        return bad_usage("%s needs -o OUTPUT", cmd);
    return run(&o);
}
