// ICU normalization and UAX #29 word segmentation behind an opaque handle.
//
// This header deliberately shows no ICU type: Foundation on Linux carries its own
// ICU whose module map declares `UErrorCode` and friends, and a Swift module that
// saw both would not build (DESIGN.md section 1). Only stdint types cross here.
#ifndef FOLIO_ICU_H
#define FOLIO_ICU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Normalization forms, as ICU's `unorm2` instances.
enum {
    FOLIO_NORMALIZATION_NONE = 0,
    FOLIO_NORMALIZATION_NFC = 1,
    FOLIO_NORMALIZATION_NFKC = 2,
    FOLIO_NORMALIZATION_NFKC_CASEFOLD = 3,
};

/// Kinds of word segment kept (ICU rule status ranges 100, 200, 300, 400).
enum {
    FOLIO_SEGMENT_NUMBER = 1,
    FOLIO_SEGMENT_LETTER = 2,
    FOLIO_SEGMENT_KANA = 3,
    FOLIO_SEGMENT_IDEOGRAPHIC = 4,
};

typedef struct folio_icu_tokenizer folio_icu_tokenizer;

/// Creates a tokenizer (one per thread: ICU break iterators are not thread-safe).
/// On failure returns NULL and writes a message into `error` (NUL-terminated).
folio_icu_tokenizer *folio_icu_tokenizer_create(int32_t normalization, char *error, int32_t error_capacity);
void folio_icu_tokenizer_destroy(folio_icu_tokenizer *tokenizer);

/// Normalizes and segments `length` bytes of valid UTF-8. Returns the number of word
/// segments found, or -1 on an ICU error (see `folio_icu_last_error`). The segments
/// stay readable until the next call: segment i is bytes[ends[i-1] ..< ends[i]]
/// (ends[-1] taken as 0) of `folio_icu_token_bytes`, its kind `folio_icu_token_kinds[i]`.
int32_t folio_icu_tokenize(folio_icu_tokenizer *tokenizer, const uint8_t *utf8, int32_t length);
const uint8_t *folio_icu_token_bytes(const folio_icu_tokenizer *tokenizer);
const int32_t *folio_icu_token_ends(const folio_icu_tokenizer *tokenizer);
const uint8_t *folio_icu_token_kinds(const folio_icu_tokenizer *tokenizer);
const char *folio_icu_last_error(const folio_icu_tokenizer *tokenizer);

/// The ICU version linked, e.g. "72.1".
const char *folio_icu_version(void);

#ifdef __cplusplus
}
#endif

#endif
