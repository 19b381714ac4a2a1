/* pth.h — PyTorch's torch.save(state_dict) files read without Python (a zip
 * archive of stored entries holding a restricted pickle and the tensors'
 * storages; runtime/io/pth.c, pth_pickle.c), and the recognition of a
 * weights or model file by its content, whatever its name (LANGUAGE.md §11). */
#ifndef NNR_IO_PTH_H
#define NNR_IO_PTH_H

#include "../nnr.h"

#include <stddef.h>
#include <stdint.h>

/* What a file is, judged by its first bytes. */
typedef enum nnr_file_kind {
    NNR_FILE_OTHER,       /* none of these (a .nnet text, a CSV, ...) */
    NNR_FILE_SAFETENSORS, /* u64 header length, then a JSON object */
    NNR_FILE_ZIP,         /* a zip archive: torch.save's format since PyTorch 1.6 */
    NNR_FILE_PTH_LEGACY,  /* torch.save(..., _use_new_zipfile_serialization=False) */
    NNR_FILE_PICKLE,      /* some other Python pickle */
    NNR_FILE_ONNX         /* an ONNX ModelProto (protobuf) */
} nnr_file_kind;

nnr_file_kind nnr_file_sniff(const unsigned char *buf, size_t len);

/* A state_dict's tensors from a .pth buffer, converted to float as
 * nnr_st_parse does (0, or -1 and a message naming path and a byte offset). */
int nnr_pth_parse(const unsigned char *buf, size_t len, const char *path, nnr_st_file *out,
                  char *err, size_t errlen);

/* A weights file of any kind nnc reads (safetensors or .pth), told apart by
 * content; other kinds are refused with a message saying what they are. */
int nnr_weights_parse(const unsigned char *buf, size_t len, const char *path,
                      nnr_st_file *out, char *err, size_t errlen);
int nnr_weights_read(const char *path, nnr_st_file *out, char *err, size_t errlen);

/* ---- internal to pth.c and pth_pickle.c ---- */

#define NNR_PTH_MAX_DIMS 8

typedef enum nnr_pth_dtype {
    NNR_PT_F32, NNR_PT_F16, NNR_PT_BF16, NNR_PT_F64, NNR_PT_I64, NNR_PT_I32,
    NNR_PT_I16, NNR_PT_I8, NNR_PT_U8, NNR_PT_BOOL
} nnr_pth_dtype;

/* One entry of the state_dict: a view of a storage. The strings point into
 * the pickle's bytes (not NUL-terminated). */
typedef struct nnr_pth_view {
    const char *name;       /* the state_dict key */
    size_t name_len;
    const char *key;        /* the storage: ARCHIVE/data/KEY in the zip */
    size_t key_len;
    nnr_pth_dtype dtype;
    uint64_t storage_numel; /* elements of the storage, as the pickle says */
    uint64_t offset;        /* storage_offset, in elements */
    int ndim;
    uint64_t shape[NNR_PTH_MAX_DIMS];
    uint64_t stride[NNR_PTH_MAX_DIMS];
    size_t pos;             /* byte offset in the file of the tensor's REDUCE */
} nnr_pth_view;

/* Runs the pickle p[0..len) (found at byte offset base of the file) and
 * returns the state_dict's entries in order in *views (malloc'd, *n of
 * them). Messages are "PATH: ... (at byte offset N)". */
int nnr_pth_unpickle(const unsigned char *p, size_t len, size_t base, const char *path,
                     nnr_pth_view **views, size_t *n, char *err, size_t errlen);

#endif
