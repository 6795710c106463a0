#include "folio_icu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/uversion.h>

struct folio_icu_tokenizer {
    const UNormalizer2 *normalizer; // NULL for FOLIO_NORMALIZATION_NONE
    UBreakIterator *words;

    UChar *utf16;          // the input as UTF-16
    int32_t utf16_capacity;
    UChar *normalized;     // the normalized UTF-16 text the iterator walks
    int32_t normalized_capacity;

    uint8_t *bytes;        // segments as UTF-8, back to back
    int32_t bytes_capacity;
    int32_t *ends;
    uint8_t *kinds;
    int32_t segments_capacity;

    char error[160];
};

static int grow(void **buffer, int32_t *capacity, int32_t needed, size_t element) {
    if (needed <= *capacity) return 1;
    int32_t next = *capacity > 0 ? *capacity : 1024;
    while (next < needed) next = next > INT32_MAX / 2 ? INT32_MAX : next * 2;
    void *moved = realloc(*buffer, (size_t)next * element);
    if (moved == NULL) return 0;
    *buffer = moved;
    *capacity = next;
    return 1;
}

folio_icu_tokenizer *folio_icu_tokenizer_create(int32_t normalization, char *error, int32_t error_capacity) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2 *normalizer = NULL;
    switch (normalization) {
    case FOLIO_NORMALIZATION_NONE: break;
    case FOLIO_NORMALIZATION_NFC: normalizer = unorm2_getNFCInstance(&status); break;
    case FOLIO_NORMALIZATION_NFKC: normalizer = unorm2_getNFKCInstance(&status); break;
    case FOLIO_NORMALIZATION_NFKC_CASEFOLD: normalizer = unorm2_getNFKCCasefoldInstance(&status); break;
    default:
        snprintf(error, (size_t)error_capacity, "unknown normalization %d", normalization);
        return NULL;
    }
    if (U_FAILURE(status)) {
        snprintf(error, (size_t)error_capacity, "ICU normalizer: %s", u_errorName(status));
        return NULL;
    }
    // "root", never the process locale: segmentation must not depend on LANG.
    UBreakIterator *words = ubrk_open(UBRK_WORD, "root", NULL, 0, &status);
    if (U_FAILURE(status)) {
        snprintf(error, (size_t)error_capacity, "ICU word break iterator: %s", u_errorName(status));
        return NULL;
    }
    folio_icu_tokenizer *tokenizer = calloc(1, sizeof *tokenizer);
    if (tokenizer == NULL) {
        ubrk_close(words);
        snprintf(error, (size_t)error_capacity, "out of memory");
        return NULL;
    }
    tokenizer->normalizer = normalizer;
    tokenizer->words = words;
    return tokenizer;
}

void folio_icu_tokenizer_destroy(folio_icu_tokenizer *tokenizer) {
    if (tokenizer == NULL) return;
    ubrk_close(tokenizer->words);
    free(tokenizer->utf16);
    free(tokenizer->normalized);
    free(tokenizer->bytes);
    free(tokenizer->ends);
    free(tokenizer->kinds);
    free(tokenizer);
}

static int32_t fail(folio_icu_tokenizer *tokenizer, const char *what, UErrorCode status) {
    snprintf(tokenizer->error, sizeof tokenizer->error, "%s: %s", what, u_errorName(status));
    return -1;
}

static int32_t out_of_memory(folio_icu_tokenizer *tokenizer) {
    snprintf(tokenizer->error, sizeof tokenizer->error, "out of memory");
    return -1;
}

static uint8_t kind_of(int32_t rule_status) {
    if (rule_status >= UBRK_WORD_IDEO && rule_status < UBRK_WORD_IDEO_LIMIT) return FOLIO_SEGMENT_IDEOGRAPHIC;
    if (rule_status >= UBRK_WORD_KANA && rule_status < UBRK_WORD_KANA_LIMIT) return FOLIO_SEGMENT_KANA;
    if (rule_status >= UBRK_WORD_LETTER && rule_status < UBRK_WORD_LETTER_LIMIT) return FOLIO_SEGMENT_LETTER;
    if (rule_status >= UBRK_WORD_NUMBER && rule_status < UBRK_WORD_NUMBER_LIMIT) return FOLIO_SEGMENT_NUMBER;
    return 0;
}

int32_t folio_icu_tokenize(folio_icu_tokenizer *tokenizer, const uint8_t *utf8, int32_t length) {
    UErrorCode status = U_ZERO_ERROR;
    // A UTF-8 byte never yields more than one UTF-16 unit.
    if (!grow((void **)&tokenizer->utf16, &tokenizer->utf16_capacity, length + 1, sizeof(UChar)))
        return out_of_memory(tokenizer);
    int32_t utf16_length = 0;
    u_strFromUTF8WithSub(tokenizer->utf16, tokenizer->utf16_capacity, &utf16_length,
                         (const char *)utf8, length, 0xFFFD, NULL, &status);
    if (U_FAILURE(status)) return fail(tokenizer, "UTF-8 to UTF-16", status);

    const UChar *text = tokenizer->utf16;
    int32_t text_length = utf16_length;
    if (tokenizer->normalizer != NULL) {
        // Most text normalizes to at most its own length; expansion (e.g. U+FDFA to 18
        // units) is rare, so size for the common case and retry once on overflow.
        int32_t needed = utf16_length + utf16_length / 4 + 16;
        for (;;) {
            if (!grow((void **)&tokenizer->normalized, &tokenizer->normalized_capacity, needed, sizeof(UChar)))
                return out_of_memory(tokenizer);
            status = U_ZERO_ERROR;
            text_length = unorm2_normalize(tokenizer->normalizer, tokenizer->utf16, utf16_length,
                                           tokenizer->normalized, tokenizer->normalized_capacity, &status);
            if (status == U_BUFFER_OVERFLOW_ERROR) { needed = text_length + 1; continue; }
            if (U_FAILURE(status)) return fail(tokenizer, "normalization", status);
            break;
        }
        text = tokenizer->normalized;
    }

    status = U_ZERO_ERROR;
    ubrk_setText(tokenizer->words, text, text_length, &status);
    if (U_FAILURE(status)) return fail(tokenizer, "word break", status);

    int32_t count = 0;
    int32_t used = 0;
    int32_t start = ubrk_first(tokenizer->words);
    for (int32_t end = ubrk_next(tokenizer->words); end != UBRK_DONE; start = end, end = ubrk_next(tokenizer->words)) {
        uint8_t kind = kind_of(ubrk_getRuleStatus(tokenizer->words));
        if (kind == 0) continue;
        if (count == tokenizer->segments_capacity) {
            int32_t capacity = tokenizer->segments_capacity;
            if (!grow((void **)&tokenizer->ends, &capacity, count + 1, sizeof(int32_t)))
                return out_of_memory(tokenizer);
            uint8_t *kinds = realloc(tokenizer->kinds, (size_t)capacity);
            if (kinds == NULL) return out_of_memory(tokenizer);
            tokenizer->kinds = kinds;
            tokenizer->segments_capacity = capacity;
        }
        // Three UTF-8 bytes at most per UTF-16 unit.
        if (!grow((void **)&tokenizer->bytes, &tokenizer->bytes_capacity, used + 3 * (end - start), 1))
            return out_of_memory(tokenizer);
        int32_t written = 0;
        status = U_ZERO_ERROR;
        u_strToUTF8((char *)tokenizer->bytes + used, tokenizer->bytes_capacity - used, &written,
                    text + start, end - start, &status);
        if (U_FAILURE(status)) return fail(tokenizer, "UTF-16 to UTF-8", status);
        used += written;
        tokenizer->ends[count] = used;
        tokenizer->kinds[count] = kind;
        count += 1;
    }
    return count;
}

const uint8_t *folio_icu_token_bytes(const folio_icu_tokenizer *tokenizer) { return tokenizer->bytes; }
const int32_t *folio_icu_token_ends(const folio_icu_tokenizer *tokenizer) { return tokenizer->ends; }
const uint8_t *folio_icu_token_kinds(const folio_icu_tokenizer *tokenizer) { return tokenizer->kinds; }
const char *folio_icu_last_error(const folio_icu_tokenizer *tokenizer) { return tokenizer->error; }

const char *folio_icu_version(void) {
    static char text[U_MAX_VERSION_STRING_LENGTH];
    UVersionInfo version;
    u_getVersion(version);
    u_versionToString(version, text);
    return text;
}
