/*
 * whence.index._fastfp -- the compiled fingerprint kernel.
 *
 * Bit-identical C implementations of the pure-Python specification in index/lexer.py (tokenize) and
 * index/fingerprint.py (kgrams, winnow, minhash).  tests/test_fastfp.py checks that both agree.
 *
 * Every function releases the GIL around its main loop (for inputs big enough that this pays: see
 * NOGIL_MIN_*), so the indexer's threads use every core.  Array arguments are any C-contiguous,
 * one-dimensional buffer of integers of the right item size (numpy arrays, array.array, memoryview),
 * or raw bytes whose length is a multiple of the item size (e.g. the arrays tokenize returns).
 * Results are returned as bytes holding native-endian arrays (numpy.frombuffer reads them).
 *
 * Functions:
 *   tokenize(data, syntax) -> (exact: u64[], abstract: u64[], line_start: u32[], line_end: u32[])
 *       (syntax: lexer.Syntax.encode() of the profile to lex with)
 *   kgrams(tokens: u64[], k) -> u64[max(0, n - k + 1)]
 *   winnow(hashes: u64[], w) -> u32[] positions
 *   minhash(values: u64[], a: u32[], b: u32[]) -> u32[len(a)]
 *   index_fingerprint(data, k, w, a, b, syntax, code_syntax=None, tiny=0, dense=0, salt=0, lines=0,
 *                     shape_salt=0, sparse=0) -> (hashes, signature, ntokens)
 *   seed_runs(sorted, order, dk, qt, dt, k, max_repeats, need) -> (hits, runs: i64[])
 *   tile(runs: i64[], nq, k) -> i64[] tiles
 *   sort_pairs(hashes: i64[], docs: u32[]) -> (i64[], u32[])   (postings by hash, then document)
 *   xxh64(data, seed=0) -> int          (the XXH64 used throughout; exposed for tests)
 *
 * LEXER_VERSION is the lexer.LEXER_VERSION these tables and rules implement, INTERFACE the version of
 * these functions' arguments and results (fingerprint.KERNEL_INTERFACE; 2: index_fingerprint's
 * code_syntax and tiny; 3: its dense and salt; 4: its lines; 5: its shape_salt; 6: shape keys of a mid-size text's lines; 7: its sparse): index/fingerprint.py uses a kernel only when both match and it has every
 * function above (an older build is not used).
 */

#define PY_SSIZE_T_CLEAN
/* The lexer version this kernel implements (index/lexer.py LEXER_VERSION; tests/test_fastfp.py). */
#define FP_LEXER_VERSION 5
/* The version of the functions' arguments and results (fingerprint.KERNEL_INTERFACE). */
#define FP_INTERFACE 7
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#define FP_HAVE_SSE2 1
#include <emmintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FP_INLINE static inline __attribute__((always_inline))
#define FP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define FP_INLINE static inline
#define FP_UNLIKELY(x) (x)
#endif

#if defined(_MSC_VER)
#define FP_RESTRICT __restrict
#else
#define FP_RESTRICT restrict
#endif

/* Below these sizes the work takes a few microseconds at most: dropping and re-taking the GIL would
 * cost more than it lets other threads gain. */
#ifndef NOGIL_MIN_BYTES
#define NOGIL_MIN_BYTES 2048 /* tokenize: input bytes */
#endif
#ifndef NOGIL_MIN_ITEMS
#define NOGIL_MIN_ITEMS 8192 /* kgrams, winnow: input hashes */
#endif
#ifndef NOGIL_MIN_PRODUCTS
#define NOGIL_MIN_PRODUCTS 65536 /* minhash: values * permutations */
#endif

/* ------------------------------------------------------------------------------------------------ */
/* XXH64, written from the published algorithm (https://github.com/Cyan4973/xxHash, doc/xxhash_spec).  */

#define XXH_P1 UINT64_C(11400714785074694791)
#define XXH_P2 UINT64_C(14029467366897019727)
#define XXH_P3 UINT64_C(1609587929392839161)
#define XXH_P4 UINT64_C(9650029242287828579)
#define XXH_P5 UINT64_C(2870177450012600261)

FP_INLINE uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

FP_INLINE uint64_t read_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

FP_INLINE uint32_t read_le32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

FP_INLINE uint64_t xxh_round(uint64_t acc, uint64_t input)
{
    acc += input * XXH_P2;
    acc = rotl64(acc, 31);
    return acc * XXH_P1;
}

FP_INLINE uint64_t xxh_merge(uint64_t h, uint64_t v)
{
    h ^= xxh_round(0, v);
    return h * XXH_P1 + XXH_P4;
}

/* The 8-, 4- and 1-byte steps over the last len % 32 bytes, then the final avalanche. */
FP_INLINE uint64_t xxh64_finish(uint64_t h, const unsigned char *p, const unsigned char *end)
{
    while ((size_t)(end - p) >= 8) {
        h ^= xxh_round(0, read_le64(p));
        h = rotl64(h, 27) * XXH_P1 + XXH_P4;
        p += 8;
    }
    if ((size_t)(end - p) >= 4) {
        h ^= (uint64_t)read_le32(p) * XXH_P1;
        h = rotl64(h, 23) * XXH_P2 + XXH_P3;
        p += 4;
    }
    while (p < end) {
        h ^= (uint64_t)(*p) * XXH_P5;
        h = rotl64(h, 11) * XXH_P1;
        p++;
    }
    h ^= h >> 33;
    h *= XXH_P2;
    h ^= h >> 29;
    h *= XXH_P3;
    h ^= h >> 32;
    return h;
}

/* Inputs of 32 bytes or more: 32-byte stripes into four accumulators, merged. */
static uint64_t xxh64_long(const unsigned char *p, size_t len, uint64_t seed)
{
    const unsigned char *const end = p + len;
    const unsigned char *const limit = end - 32;
    uint64_t v1 = seed + XXH_P1 + XXH_P2;
    uint64_t v2 = seed + XXH_P2;
    uint64_t v3 = seed;
    uint64_t v4 = seed - XXH_P1;
    uint64_t h;
    do {
        v1 = xxh_round(v1, read_le64(p));
        v2 = xxh_round(v2, read_le64(p + 8));
        v3 = xxh_round(v3, read_le64(p + 16));
        v4 = xxh_round(v4, read_le64(p + 24));
        p += 32;
    } while (p <= limit);
    h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = xxh_merge(h, v1);
    h = xxh_merge(h, v2);
    h = xxh_merge(h, v3);
    h = xxh_merge(h, v4);
    return xxh64_finish(h + (uint64_t)len, p, end);
}

/* Most tokens are short: the < 32 byte path stays inline. */
FP_INLINE uint64_t xxh64(const unsigned char *p, size_t len, uint64_t seed)
{
    if (FP_UNLIKELY(len >= 32))
        return xxh64_long(p, len, seed);
    return xxh64_finish(seed + XXH_P5 + (uint64_t)len, p, p + len);
}

/* ------------------------------------------------------------------------------------------------ */
/* Lexer tables (filled once at module import; read-only afterwards).                              */

#define SEED_EXACT UINT64_C(0)
#define SEED_STRING UINT64_C(0x5354)

enum {
    C_IDENT_START = 1, /* [A-Za-z_$] and bytes >= 128 */
    C_IDENT_CONT = 2,  /* ident start or digit */
    C_DIGIT = 4,       /* [0-9] */
    C_NUM_CONT = 8,    /* [A-Za-z0-9_] */
    C_SPACE = 16       /* space, \t, \f, \v (line breaks are handled separately) */
};

static unsigned char char_class[256];
static uint64_t punct_hash[256];
static uint64_t hash_ident, hash_number, hash_string;

/* Must be the exact word lists of lexer.KEYWORDS and lexer.DIRECTIVES (duplicates are harmless):
 * tests/test_fastfp.py reads both tables from this file and compares them with the lexer's both ways. */
static const char KEYWORDS_SRC[] =
    "abstract and as assert async await begin bool boolean break byte case catch char class const "
    "continue def default defer del delete do double elif else end enum except export extends extern "
    "false final finally float fn for foreach from func function global go goto if impl implements "
    "import in instanceof int interface is lambda let long loop match mod module mut namespace new nil "
    "none not null or override package pass private protected pub public raise return self short "
    "signed sizeof static struct super switch synchronized template then this throw throws trait true "
    "try type typedef typeof union unless unsafe unsigned use using var virtual void volatile when where "
    "while with yield None True False string str void";

/* Must be the exact word list of lexer.PYTHON_WORDS (tests/test_fastfp.py compares them): the keywords a
 * profile with python_words keeps verbatim in the abstract view; the others are names there. */
static const char PYTHON_WORDS_SRC[] =
    "and as assert async await break class continue def del elif else except finally for from global "
    "if import in is lambda not or pass raise return try while with yield None True False self bool float "
    "int str super type";

/* Must be the exact word list of lexer.PYTHON_BUILTINS (tests/test_fastfp.py compares them): words a
 * profile with python_words also keeps verbatim, which no other profile treats as keywords. */
static const char PYTHON_BUILTINS_SRC[] =
    "cls abs bytearray bytes callable chr classmethod complex delattr dict divmod enumerate frozenset "
    "getattr globals hasattr isinstance issubclass len list locals memoryview object ord print property "
    "range repr reversed round set setattr slice sorted staticmethod tuple zip NotImplemented Ellipsis "
    "ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup BlockingIOError "
    "BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError ConnectionError "
    "ConnectionRefusedError ConnectionResetError DeprecationWarning EOFError EncodingWarning "
    "EnvironmentError Exception ExceptionGroup FileExistsError FileNotFoundError FloatingPointError "
    "FutureWarning GeneratorExit IOError ImportError ImportWarning IndentationError IndexError "
    "InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError "
    "ModuleNotFoundError NameError NotADirectoryError NotImplementedError OSError OverflowError "
    "PendingDeprecationWarning PermissionError ProcessLookupError RecursionError ReferenceError "
    "ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration SyntaxError "
    "SyntaxWarning SystemError SystemExit TabError TimeoutError TypeError UnboundLocalError "
    "UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning UserWarning "
    "ValueError Warning ZeroDivisionError";

static const char DIRECTIVES_SRC[] =
    "include define undef if ifdef ifndef elif else endif pragma error warning line import region "
    "endregion using";

/* Keywords live in an open-addressing table indexed by their xxh64 (which the lexer computes for
 * every word anyway), so a lookup is one probe and, on a hash match, one memcmp.  A quarter full with
 * Python's builtins in it: most words are no keyword, and at half full their lookups probed on past
 * neighbours often enough to cost the lexer 5 % (scripts/bench/fingerprint.py --tokenize). */
#define KW_TABLE_BITS 10
#define KW_TABLE_SIZE (1u << KW_TABLE_BITS)

typedef struct {
    uint64_t hash;
    const char *word; /* NULL: empty slot */
    size_t len;
    int python;      /* one of PYTHON_WORDS_SRC or PYTHON_BUILTINS_SRC too */
    int python_only; /* only one of PYTHON_BUILTINS_SRC: a name in every other profile */
} kw_slot;

static kw_slot kw_table[KW_TABLE_SIZE];

#define MAX_DIRECTIVES 32
static const char *directive_word[MAX_DIRECTIVES];
static size_t directive_len[MAX_DIRECTIVES];
static int n_directives;

static int kw_insert(const char *word, size_t len)
{
    uint64_t h = xxh64((const unsigned char *)word, len, SEED_EXACT);
    size_t idx = (size_t)(h & (KW_TABLE_SIZE - 1));
    size_t probes;
    for (probes = 0; probes < KW_TABLE_SIZE; probes++) {
        kw_slot *s = &kw_table[idx];
        if (s->word == NULL) {
            s->hash = h;
            s->word = word;
            s->len = len;
            return 0;
        }
        if (s->hash == h && s->len == len && memcmp(s->word, word, len) == 0)
            return 0; /* duplicate */
        idx = (idx + 1) & (KW_TABLE_SIZE - 1);
    }
    return -1;
}

/* The keyword's slot, or NULL for a word that is none. */
FP_INLINE kw_slot *find_keyword(uint64_t h, const unsigned char *word, size_t len)
{
    size_t idx = (size_t)(h & (KW_TABLE_SIZE - 1));
    for (;;) {
        kw_slot *s = &kw_table[idx];
        if (s->word == NULL)
            return NULL;
        if (s->hash == h && s->len == len) {
            /* keywords are short: an inline loop beats a call to memcmp */
            size_t j = 0;
            while (j < len && (unsigned char)s->word[j] == word[j])
                j++;
            if (j == len)
                return s;
        }
        idx = (idx + 1) & (KW_TABLE_SIZE - 1);
    }
}

/* The next word of a space-separated word list at *p, its length in *len, and *p past it; NULL at the
 * list's end. */
static const char *next_word(const char **p, size_t *len)
{
    const char *w = *p, *q;
    while (*w == ' ')
        w++;
    if (*w == '\0') {
        *p = w;
        return NULL;
    }
    for (q = w; *q && *q != ' '; q++)
        ;
    *len = (size_t)(q - w);
    *p = q;
    return w;
}

static int init_tables(void)
{
    int c;
    const char *p, *w;
    size_t len;
    memset(char_class, 0, sizeof(char_class));
    for (c = 0; c < 256; c++) {
        unsigned char k = 0;
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        int digit = c >= '0' && c <= '9';
        if (alpha || c == '_' || c == '$' || c >= 128)
            k |= C_IDENT_START | C_IDENT_CONT;
        if (digit)
            k |= C_IDENT_CONT | C_DIGIT | C_NUM_CONT;
        if (alpha || c == '_')
            k |= C_NUM_CONT;
        if (c == ' ' || c == '\t' || c == '\f' || c == '\v')
            k |= C_SPACE;
        char_class[c] = k;
        {
            unsigned char b = (unsigned char)c;
            punct_hash[c] = xxh64(&b, 1, SEED_EXACT);
        }
    }
    hash_ident = xxh64((const unsigned char *)"\0ident", 6, SEED_EXACT);
    hash_number = xxh64((const unsigned char *)"\0number", 7, SEED_EXACT);
    hash_string = xxh64((const unsigned char *)"\0string", 7, SEED_EXACT);

    memset(kw_table, 0, sizeof(kw_table));
    for (p = KEYWORDS_SRC; (w = next_word(&p, &len)) != NULL;) {
        if (kw_insert(w, len) < 0)
            return -1;
    }
    for (p = PYTHON_WORDS_SRC; (w = next_word(&p, &len)) != NULL;) {
        kw_slot *s = find_keyword(xxh64((const unsigned char *)w, len, SEED_EXACT),
                                  (const unsigned char *)w, len);
        if (s == NULL)
            return -1; /* a Python word that is no keyword */
        s->python = 1;
    }
    for (p = PYTHON_BUILTINS_SRC; (w = next_word(&p, &len)) != NULL;) {
        const uint64_t h = xxh64((const unsigned char *)w, len, SEED_EXACT);
        kw_slot *s = find_keyword(h, (const unsigned char *)w, len);
        if (s != NULL)
            return -1; /* a builtin that is a keyword too: it belongs in PYTHON_WORDS_SRC */
        if (kw_insert(w, len) < 0)
            return -1;
        s = find_keyword(h, (const unsigned char *)w, len);
        s->python = 1;
        s->python_only = 1;
    }
    n_directives = 0;
    for (p = DIRECTIVES_SRC; (w = next_word(&p, &len)) != NULL;) {
        if (n_directives >= MAX_DIRECTIVES)
            return -1;
        directive_word[n_directives] = w;
        directive_len[n_directives] = len;
        n_directives++;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* tokenize                                                                                          */

/* First occurrence of pat[0:plen] in d[from:n], or -1 (bytes.find). */
static Py_ssize_t find_seq(const unsigned char *d, Py_ssize_t n, Py_ssize_t from, const char *pat,
                           Py_ssize_t plen)
{
    const unsigned char first = (unsigned char)pat[0];
    Py_ssize_t j = from;
    while (j + plen <= n) {
        const unsigned char *hit = memchr(d + j, first, (size_t)(n - plen + 1 - j));
        Py_ssize_t k;
        if (hit == NULL)
            return -1;
        k = hit - d;
        if (memcmp(d + k + 1, pat + 1, (size_t)(plen - 1)) == 0)
            return k;
        j = k + 1;
    }
    return -1;
}

/* Line breaks in d[s:e]; CRLF counts once (lexer._count_lines). */
static Py_ssize_t count_lines(const unsigned char *d, Py_ssize_t s, Py_ssize_t e)
{
    Py_ssize_t count = 0, j;
    for (j = s; j < e; j++) {
        unsigned char c = d[j];
        if (c == '\n')
            count++;
        else if (c == '\r' && !(j + 1 < e && d[j + 1] == '\n'))
            count++;
    }
    return count;
}

/* End of the run of identifier bytes ([A-Za-z0-9_$] and >= 128) starting at d[j]. */
#ifdef FP_HAVE_SSE2
FP_INLINE Py_ssize_t ident_end(const unsigned char *d, Py_ssize_t j, Py_ssize_t n)
{
    /* 16 bytes at a time: a byte is in a range [lo, lo + len) iff byte + (128 - lo) as a signed byte is
     * below -128 + len; letters of either case are the lower-case range after OR 0x20. */
    const __m128i letter_bias = _mm_set1_epi8((char)(128 - 'a')), letter_lim = _mm_set1_epi8((char)(-128 + 26));
    const __m128i digit_bias = _mm_set1_epi8((char)(128 - '0')), digit_lim = _mm_set1_epi8((char)(-128 + 10));
    const __m128i case_bit = _mm_set1_epi8(0x20), under = _mm_set1_epi8('_'), dollar = _mm_set1_epi8('$');
    const __m128i zero = _mm_setzero_si128();
    while (j + 16 <= n) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + j));
        __m128i in = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(x, case_bit), letter_bias), letter_lim);
        unsigned out;
        in = _mm_or_si128(in, _mm_cmplt_epi8(_mm_add_epi8(x, digit_bias), digit_lim));
        in = _mm_or_si128(in, _mm_cmpeq_epi8(x, under));
        in = _mm_or_si128(in, _mm_cmpeq_epi8(x, dollar));
        in = _mm_or_si128(in, _mm_cmplt_epi8(x, zero)); /* >= 128 */
        out = ~(unsigned)_mm_movemask_epi8(in) & 0xFFFFu;
        if (out)
            return j + __builtin_ctz(out);
        j += 16;
    }
    while (j < n && (char_class[d[j]] & C_IDENT_CONT))
        j++;
    return j;
}
#else
FP_INLINE Py_ssize_t ident_end(const unsigned char *d, Py_ssize_t j, Py_ssize_t n)
{
    while (j < n && (char_class[d[j]] & C_IDENT_CONT))
        j++;
    return j;
}
#endif

/* lexer._is_directive: is the word starting at d[i] one of DIRECTIVES? */
static int is_directive(const unsigned char *d, Py_ssize_t n, Py_ssize_t i)
{
    const size_t len = (size_t)(ident_end(d, i, n) - i);
    int k;
    for (k = 0; k < n_directives; k++)
        if (directive_len[k] == len && memcmp(directive_word[k], d + i, len) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* Syntax profiles (lexer.Syntax): decoded from Syntax.encode()'s bytes on every call, so that the    */
/* Python table stays the one definition.                                                           */

#define SX_MAX 8    /* markers of each kind (lexer._MAX_MARKERS) */
#define SX_MAXLEN 8 /* bytes per marker (lexer._MAX_MARKER_LEN) */

enum { LC_BLANK_BEFORE = 1, LC_BLANK_AFTER = 2, LC_LINE_START = 4, LC_WORD = 8, LC_SLASH_RULE = 16,
       LC_HASH_RULE = 32, LC_NOT_ESCAPED = 64 };
enum { S_COMMENT = 1, S_QUOTE = 2, S_MULTI = 4, S_TRIPLE = 8 };

typedef struct {
    unsigned char start[256]; /* S_* bits of each byte */
    int escapes, regex, char_quote;
    int stars;          /* a `*` first on its line and followed by white space is dropped (Syntax.stars) */
    int code_only;      /* block comments dropped whole (lexer.CODE_ONLY) */
    int python_words;   /* keep only Python's keywords verbatim in the abstract view (Syntax.python_words) */
    int ident_comments; /* a marker starts with an identifier byte (REM) */
    int nblock, nline;
    unsigned char bopen[SX_MAX][SX_MAXLEN], bclose[SX_MAX][SX_MAXLEN];
    Py_ssize_t bolen[SX_MAX], bclen[SX_MAX];
    int bnest[SX_MAX];
    unsigned char lmark[SX_MAX][SX_MAXLEN];
    Py_ssize_t llen[SX_MAX];
    int lflags[SX_MAX];
} syntax_t;

FP_INLINE int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Decode Syntax.encode()'s bytes into sx.  Returns 0, or -1 with ValueError set. */
static int parse_syntax(const unsigned char *p, Py_ssize_t len, syntax_t *sx)
{
    const unsigned char *const end = p + len;
    int k, part;
    memset(sx, 0, sizeof(*sx));
#define SX_NEED(m)                                                                                         \
    do {                                                                                                   \
        if (end - p < (m))                                                                                 \
            goto bad;                                                                                      \
    } while (0)
    SX_NEED(1);
    sx->escapes = (p[0] & 1) != 0;
    sx->regex = (p[0] & 2) != 0;
    sx->char_quote = (p[0] & 4) != 0;
    sx->stars = (p[0] & 8) != 0;
    sx->code_only = (p[0] & 16) != 0;
    sx->python_words = (p[0] & 32) != 0;
    p++;
    for (part = 0; part < 3; part++) { /* quotes, multiline, triple */
        const int bit = part == 0 ? S_QUOTE : part == 1 ? S_MULTI : S_TRIPLE;
        Py_ssize_t m;
        SX_NEED(1);
        m = *p++;
        SX_NEED(m);
        for (k = 0; k < m; k++)
            sx->start[p[k]] |= (unsigned char)bit;
        p += m;
    }
    SX_NEED(1);
    sx->nblock = *p++;
    if (sx->nblock > SX_MAX)
        goto bad;
    for (k = 0; k < sx->nblock; k++) {
        SX_NEED(2);
        sx->bnest[k] = p[0] != 0;
        sx->bolen[k] = p[1];
        p += 2;
        if (sx->bolen[k] < 1 || sx->bolen[k] > SX_MAXLEN)
            goto bad;
        SX_NEED(sx->bolen[k] + 1);
        memcpy(sx->bopen[k], p, (size_t)sx->bolen[k]);
        p += sx->bolen[k];
        sx->bclen[k] = *p++;
        if (sx->bclen[k] < 1 || sx->bclen[k] > SX_MAXLEN)
            goto bad;
        SX_NEED(sx->bclen[k]);
        memcpy(sx->bclose[k], p, (size_t)sx->bclen[k]);
        p += sx->bclen[k];
        sx->start[sx->bopen[k][0]] |= S_COMMENT;
        sx->start[sx->bclose[k][0]] |= S_COMMENT; /* closers are dropped too */
        if ((char_class[sx->bopen[k][0]] | char_class[sx->bclose[k][0]]) & C_IDENT_START)
            sx->ident_comments = 1;
    }
    SX_NEED(1);
    sx->nline = *p++;
    if (sx->nline > SX_MAX)
        goto bad;
    for (k = 0; k < sx->nline; k++) {
        unsigned char first;
        SX_NEED(2);
        sx->lflags[k] = p[0];
        sx->llen[k] = p[1];
        p += 2;
        if (sx->llen[k] < 1 || sx->llen[k] > SX_MAXLEN)
            goto bad;
        SX_NEED(sx->llen[k]);
        memcpy(sx->lmark[k], p, (size_t)sx->llen[k]);
        p += sx->llen[k];
        first = sx->lmark[k][0];
        sx->start[first] |= S_COMMENT;
        if ((sx->lflags[k] & LC_WORD) && ((first | 0x20) >= 'a' && (first | 0x20) <= 'z'))
            sx->start[first ^ 0x20] |= S_COMMENT;
        if (char_class[first] & C_IDENT_START)
            sx->ident_comments = 1;
    }
    if (p != end)
        goto bad;
    for (k = 0; k < 256; k++)
        if ((sx->start[k] & (S_MULTI | S_TRIPLE)) && !(sx->start[k] & S_QUOTE))
            goto bad;
    for (k = 0; k < 256; k++)
        if ((sx->start[k] & S_COMMENT) && (char_class[k] & C_DIGIT || char_class[k] & C_SPACE || k == '\n' || k == '\r'))
            goto bad;
    return 0;
#undef SX_NEED
bad:
    PyErr_SetString(PyExc_ValueError, "malformed syntax profile (expected lexer.Syntax.encode())");
    return -1;
}

/* lexer._line_comment: does line-comment marker k of sx start at d[i]? */
FP_INLINE int line_comment_at(const unsigned char *d, Py_ssize_t n, Py_ssize_t i, const syntax_t *sx, int k,
                           int line_has_token)
{
    const Py_ssize_t m = sx->llen[k];
    const int flags = sx->lflags[k];
    int after, before, blank_after;
    if (i + m > n)
        return 0;
    if (flags & LC_WORD) {
        Py_ssize_t j;
        for (j = 0; j < m; j++)
            if (ascii_lower(d[i + j]) != ascii_lower(sx->lmark[k][j]))
                return 0;
    }
    else if (memcmp(d + i, sx->lmark[k], (size_t)m) != 0)
        return 0;
    after = i + m < n ? d[i + m] : -1;
    before = i > 0 ? d[i - 1] : -1;
    blank_after = after == -1 || after == '\t' || after == '\n' || after == '\r' || after == ' ';
    if ((flags & LC_BLANK_BEFORE) &&
        !(before == -1 || before == ' ' || before == '\t' || before == '\n' || before == '\r'))
        return 0;
    if ((flags & LC_BLANK_AFTER) && !blank_after)
        return 0;
    if ((flags & LC_LINE_START) && line_has_token)
        return 0;
    if ((flags & LC_WORD) && after != -1 && (char_class[after] & C_IDENT_CONT))
        return 0;
    if (flags & LC_SLASH_RULE) {
        /* not `//=`, not glued between operands (`a//b`) */
        const int glued =
            before != -1 && ((char_class[before] & C_IDENT_CONT) || before == ')' || before == ']') && !blank_after;
        if (after == '=' || glued)
            return 0;
    }
    if ((flags & LC_HASH_RULE) && !(after == -1 || after == '\n' || after == '\r' || after == ' ' || after == '\t' ||
                                    after == '#' || after == '!' ||
                                    (!line_has_token && !is_directive(d, n, i + m))))
        return 0;
    if ((flags & LC_NOT_ESCAPED) && before == '\\')
        return 0;
    return 1;
}

/* lexer._block_end: end of block comment k of sx opened at d[i] (n if it never closes). */
static Py_ssize_t block_end(const unsigned char *d, Py_ssize_t n, Py_ssize_t i, const syntax_t *sx, int k)
{
    const unsigned char *const o = sx->bopen[k], *const c = sx->bclose[k];
    const Py_ssize_t ol = sx->bolen[k], cl = sx->bclen[k];
    Py_ssize_t j, depth = 1;
    if (!sx->bnest[k]) {
        const Py_ssize_t e = find_seq(d, n, i + ol, (const char *)c, cl);
        return e < 0 ? n : e + cl;
    }
    j = i + ol;
    while (j < n) {
        if (j + ol <= n && memcmp(d + j, o, (size_t)ol) == 0) {
            depth++;
            j += ol;
        }
        else if (j + cl <= n && memcmp(d + j, c, (size_t)cl) == 0) {
            j += cl;
            if (--depth == 0)
                return j;
        }
        else
            j++;
    }
    return n;
}

/* The comment rules of lexer.tokenize at d[i], a byte that may start a comment marker: a block
 * comment's opener or closer (dropped; *inside and *depth track the comment the lexer is in: -1, none;
 * code only: the whole comment dropped, its line breaks added to *line), else a line comment (dropped to
 * the end of its line, or to the closer of the comment it is in).  Returns where lexing goes on, or -1
 * if no marker starts at d[i]. */
FP_INLINE Py_ssize_t comment_end(const unsigned char *d, Py_ssize_t n, Py_ssize_t i, const syntax_t *sx,
                                 int line_has_token, int *inside, Py_ssize_t *depth, uint32_t *line)
{
    int k;
    for (k = 0; k < sx->nblock; k++) {
        const Py_ssize_t ol = sx->bolen[k];
        if (d[i] == sx->bopen[k][0] && i + ol <= n && memcmp(d + i, sx->bopen[k], (size_t)ol) == 0) {
            if (sx->code_only) {
                const Py_ssize_t end = block_end(d, n, i, sx, k);
                *line += (uint32_t)count_lines(d, i, end);
                return end;
            }
            if (*inside < 0) {
                *inside = k;
                *depth = 1;
            }
            else if (*inside == k && sx->bnest[k])
                ++*depth;
            return i + ol;
        }
    }
    for (k = 0; k < sx->nblock; k++) {
        const Py_ssize_t cl = sx->bclen[k];
        if (d[i] == sx->bclose[k][0] && i + cl <= n && memcmp(d + i, sx->bclose[k], (size_t)cl) == 0) {
            if (*inside == k && --*depth == 0)
                *inside = -1;
            return i + cl;
        }
    }
    for (k = 0; k < sx->nline; k++) {
        /* the first byte, cheaply (markers rarely match: `-` in `->`, `/` dividing) */
        if (d[i] != sx->lmark[k][0] && !(sx->lflags[k] & LC_WORD))
            continue;
        if (sx->llen[k] > 1 && (i + 1 >= n || (d[i + 1] != sx->lmark[k][1] && !(sx->lflags[k] & LC_WORD))))
            continue;
        if (line_comment_at(d, n, i, sx, k, line_has_token)) {
            Py_ssize_t j = i;
            while (j < n && d[j] != '\n' && d[j] != '\r')
                j++;
            if (*inside >= 0) { /* inside a block comment: the line comment ends at its closer */
                const Py_ssize_t at = find_seq(d, j, i + sx->llen[k], (const char *)sx->bclose[*inside],
                                               sx->bclen[*inside]);
                if (at >= 0)
                    j = at;
            }
            return j;
        }
    }
    return -1;
}

/* lexer._scan_regex: end of the regular-expression literal opened by the `/` at d[i], or -1. */
#define REGEX_MAX 256 /* lexer.REGEX_MAX */
static Py_ssize_t scan_regex(const unsigned char *d, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t j = i + 1;
    int in_class = 0;
    if (n > i + REGEX_MAX)
        n = i + REGEX_MAX;
    while (j < n) {
        const unsigned char c = d[j];
        if (c == '\n' || c == '\r')
            return -1;
        if (c == '\\') {
            if (j + 1 >= n || d[j + 1] == '\n' || d[j + 1] == '\r')
                return -1;
            j += 2;
            continue;
        }
        if (c == '[')
            in_class = 1;
        else if (c == ']')
            in_class = 0;
        else if (c == '/' && !in_class)
            return j + 1;
        j++;
    }
    return -1;
}

/* lexer._char_literal */
static int char_literal(const unsigned char *inner, Py_ssize_t len, int escapes)
{
    Py_ssize_t j, chars = 0;
    if (escapes && len > 0 && inner[0] == '\\')
        return len <= 10;
    if (len > 4)
        return 0;
    for (j = 0; j < len; j++)
        if ((inner[j] & 0xC0) != 0x80)
            chars++;
    return chars == 1;
}

/* lexer._scan_string.  Returns 1 and fills end/inner_start/inner_end if the string at d[i] closes;
 * *multi is set when it may contain line breaks (its quote is one of the profile's multiline ones, and
 * the lexer is not inside a block comment: in_comment). */
static int scan_string(const unsigned char *d, Py_ssize_t n, Py_ssize_t i, const syntax_t *sx, int in_comment,
                       Py_ssize_t *end, Py_ssize_t *inner_start, Py_ssize_t *inner_end, int *multi)
{
    const unsigned char q = d[i];
    const int ml = (sx->start[q] & S_MULTI) != 0 && !in_comment;
    Py_ssize_t j;
    j = i + 1;
    while (j < n) {
        unsigned char c = d[j];
        if (c == '\\' && sx->escapes) {
            if (j + 1 < n && (ml || (d[j + 1] != '\n' && d[j + 1] != '\r'))) {
                j += 2;
                continue;
            }
            if (!ml)
                return 0;
        }
        if (c == q) {
            if (q == '\'' && sx->char_quote && !char_literal(d + i + 1, j - i - 1, sx->escapes))
                return 0;
            *end = j + 1;
            *inner_start = i + 1;
            *inner_end = j;
            *multi = ml;
            return 1;
        }
        if (!ml && (c == '\n' || c == '\r'))
            return 0;
        j++;
    }
    return 0;
}

/* Where the lexer writes: the buffers of the four result bytes objects, with room for cap tokens, and
 * the lexer's state, so that it can stop when they are full and resume once the caller (holding the
 * GIL) has grown them.  Writing straight into the results touches each output page once; on big
 * inputs fresh pages, not the lexing, are the main cost. */
typedef struct {
    uint64_t *exact;
    uint64_t *abstract;
    uint32_t *line_start;
    uint32_t *line_end;
    Py_ssize_t cap;         /* room in the four arrays, in tokens */
    unsigned char *scratch; /* CR-normalised string contents (PyMem_Raw*, grown on demand) */
    size_t scratch_cap;
    /* lexer state */
    Py_ssize_t i;       /* next input byte */
    Py_ssize_t t;       /* tokens written */
    uint32_t line;      /* current line (1-based) */
    int line_has_token; /* a token already started on the current line */
    int inside;         /* the block comment the lexer is in (-1: none) */
    Py_ssize_t depth;   /* and its nesting depth */
} tok_state;

#define LEX_DONE 0
#define LEX_FULL 1   /* out of room: grow the arrays and call again */
#define LEX_NOMEM -1

/* The lexer proper: runs without the GIL, from the state in st until the input ends (LEX_DONE) or the
 * arrays are full (LEX_FULL); LEX_NOMEM if out of memory. */
static int tokenize_impl(const unsigned char *d, Py_ssize_t n, const syntax_t *sx, tok_state *st)
{
    uint64_t *const exact = st->exact;
    uint64_t *const abstract = st->abstract;
    uint32_t *const lstart = st->line_start;
    uint32_t *const lend = st->line_end;
    const Py_ssize_t cap = st->cap;
    Py_ssize_t i = st->i, t = st->t;
    uint32_t line = st->line;
    int line_has_token = st->line_has_token;
    int inside = st->inside;
    Py_ssize_t depth = st->depth;
    const unsigned char *const start = sx->start; /* the profile's S_* bits per byte */
    const int ident_comments = sx->ident_comments, regex = sx->regex, stars = sx->stars;
    const int python_words = sx->python_words;

    while (i < n) {
        const unsigned char c = d[i];
        int nxt;
        uint32_t first;

        if (c == '\n' || c == '\r') {
            i += (c == '\r' && i + 1 < n && d[i + 1] == '\n') ? 2 : 1;
            line++;
            line_has_token = 0;
            continue;
        }
        if (char_class[c] & C_SPACE) {
            do
                i++;
            while (i < n && (char_class[d[i]] & C_SPACE));
            continue;
        }
        /* Room for one more token? */
        if (FP_UNLIKELY(t == cap)) {
            st->i = i;
            st->t = t;
            st->line = line;
            st->line_has_token = line_has_token;
            st->inside = inside;
            st->depth = depth;
            return LEX_FULL;
        }
        first = line;

        /* Identifiers and keywords (the commonest token: tested first; they cannot start anything
         * else). */
        if (char_class[c] & C_IDENT_START) {
            Py_ssize_t j;
            if (FP_UNLIKELY(ident_comments) && (start[c] & S_COMMENT)) {
                const Py_ssize_t end = comment_end(d, n, i, sx, line_has_token, &inside, &depth, &line);
                if (end >= 0) {
                    i = end;
                    continue;
                }
            }
            j = ident_end(d, i + 1, n);
            uint64_t h = xxh64(d + i, (size_t)(j - i), SEED_EXACT);
            exact[t] = h;
            const kw_slot *kw = find_keyword(h, d + i, (size_t)(j - i));
            if (kw != NULL && (python_words ? kw->python : !kw->python_only)) {
                abstract[t] = h;
            }
            else {
                abstract[t] = hash_ident;
            }
            lstart[t] = lend[t] = first;
            t++;
            i = j;
            line_has_token = 1;
            continue;
        }
        if (char_class[c] & C_DIGIT) {
            Py_ssize_t j = i + 1;
            while (j < n) {
                const unsigned char e = d[j];
                if ((char_class[e] & C_NUM_CONT) || (e == '.' && j + 1 < n && (char_class[d[j + 1]] & C_DIGIT)))
                    j++;
                else
                    break;
            }
            exact[t] = xxh64(d + i, (size_t)(j - i), SEED_EXACT);
            abstract[t] = hash_number;
            lstart[t] = lend[t] = first;
            t++;
            i = j;
            line_has_token = 1;
            continue;
        }

        nxt = i + 1 < n ? d[i + 1] : -1;
        /* Comments (the profile's block comment markers, then its line comments). */
        if (start[c] & S_COMMENT) {
            const Py_ssize_t end = comment_end(d, n, i, sx, line_has_token, &inside, &depth, &line);
            if (end >= 0) {
                i = end;
                continue;
            }
        }
        /* A doc comment's decoration: `*` first on its line, followed by white space. */
        if (c == '*' && stars && !line_has_token && (nxt == -1 || nxt == ' ' || nxt == '\t' || nxt == '\n' || nxt == '\r')) {
            i++;
            continue;
        }
        /* Triple quotes are dropped: what they enclose is lexed as code (see lexer.py). */
        if ((start[c] & S_TRIPLE) && nxt == c && i + 2 < n && d[i + 2] == c) {
            i += 3;
            continue;
        }
        /* Strings (an unclosed quote falls through to punctuation). */
        if (start[c] & S_QUOTE) {
            Py_ssize_t end, is, ie;
            int multi = 0;
            if (scan_string(d, n, i, sx, inside >= 0, &end, &is, &ie, &multi)) {
                const unsigned char *inner = d + is;
                size_t ilen = (size_t)(ie - is);
                uint64_t h;
                Py_ssize_t breaks = 0;
                int has_cr = 0;
                if (multi) {
                    size_t j;
                    for (j = 0; j < ilen; j++) {
                        const unsigned char e = inner[j];
                        if (e == '\n')
                            breaks++;
                        else if (e == '\r') {
                            has_cr = 1;
                            if (!(j + 1 < ilen && inner[j + 1] == '\n'))
                                breaks++;
                        }
                    }
                }
                if (has_cr) {
                    /* \r\n -> \n, then lone \r -> \n */
                    size_t j, o = 0;
                    if (st->scratch_cap < ilen) {
                        unsigned char *grown = PyMem_RawRealloc(st->scratch, ilen);
                        if (grown == NULL)
                            return LEX_NOMEM;
                        st->scratch = grown;
                        st->scratch_cap = ilen;
                    }
                    for (j = 0; j < ilen; j++) {
                        const unsigned char e = inner[j];
                        if (e == '\r') {
                            st->scratch[o++] = '\n';
                            if (j + 1 < ilen && inner[j + 1] == '\n')
                                j++;
                        }
                        else
                            st->scratch[o++] = e;
                    }
                    h = xxh64(st->scratch, o, SEED_STRING);
                }
                else
                    h = xxh64(inner, ilen, SEED_STRING);
                line += (uint32_t)breaks;
                exact[t] = h;
                abstract[t] = hash_string;
                lstart[t] = first;
                lend[t] = line;
                t++;
                i = end;
                line_has_token = 1;
                continue;
            }
        }
        /* Regular-expression literals: a `/` that does not follow an operand. */
        if (c == '/' && regex &&
            !(t > 0 && (abstract[t - 1] == hash_ident || abstract[t - 1] == hash_number ||
                        abstract[t - 1] == hash_string || exact[t - 1] == punct_hash[')'] ||
                        exact[t - 1] == punct_hash[']']))) {
            const Py_ssize_t end = scan_regex(d, n, i);
            if (end > 0) {
                exact[t] = xxh64(d + i + 1, (size_t)(end - i - 2), SEED_STRING);
                abstract[t] = hash_string;
                lstart[t] = lend[t] = first;
                t++;
                i = end;
                line_has_token = 1;
                continue;
            }
        }
        /* Anything else: one-byte punctuation. */
        exact[t] = abstract[t] = punct_hash[c];
        lstart[t] = lend[t] = first;
        t++;
        i++;
        line_has_token = 1;
    }
    st->i = i;
    st->t = t;
    st->inside = inside;
    st->depth = depth;
    return LEX_DONE;
}

/* Shrink a bytes object made by PyBytes_FromStringAndSize(NULL, cap) to its used size. */
static int shrink_bytes(PyObject **obj, Py_ssize_t size)
{
    if (PyBytes_GET_SIZE(*obj) == size)
        return 0;
    return _PyBytes_Resize(obj, size);
}

/* (Re)size the four result arrays to cap tokens and point st at them.  Needs the GIL. */
/* Token arrays for n input bytes are first sized for a token per 4 bytes (code averages 5 to 8), and
 * doubled when outgrown, up to n, which always suffices (a token takes at least one byte). */
FP_INLINE Py_ssize_t tok_first_cap(Py_ssize_t n)
{
    return n / 4 + 64 < n ? n / 4 + 64 : n;
}

FP_INLINE Py_ssize_t tok_grown_cap(Py_ssize_t cap, Py_ssize_t n)
{
    return cap <= n / 2 ? 2 * cap : n;
}

static int tok_resize(PyObject **res, tok_state *st, Py_ssize_t cap)
{
    int k;
    for (k = 0; k < 4; k++) {
        const Py_ssize_t size = cap * (k < 2 ? 8 : 4);
        if (res[k] == NULL) {
            if ((res[k] = PyBytes_FromStringAndSize(NULL, size)) == NULL)
                return -1;
        }
        else if (PyBytes_GET_SIZE(res[k]) != size && _PyBytes_Resize(&res[k], size) < 0)
            return -1; /* res[k] is now NULL */
    }
    st->exact = (uint64_t *)PyBytes_AS_STRING(res[0]);
    st->abstract = (uint64_t *)PyBytes_AS_STRING(res[1]);
    st->line_start = (uint32_t *)PyBytes_AS_STRING(res[2]);
    st->line_end = (uint32_t *)PyBytes_AS_STRING(res[3]);
    st->cap = cap;
    return 0;
}

static PyObject *fp_tokenize(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data", "syntax", NULL};
    Py_buffer buf;
    PyObject *res[4] = {NULL, NULL, NULL, NULL}, *result = NULL;
    Py_ssize_t n, cap, sxlen;
    const char *sxbytes;
    syntax_t sx;
    tok_state st;
    int rc, k;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*y#:tokenize", kwlist, &buf, &sxbytes, &sxlen))
        return NULL;
    n = buf.len;
    memset(&st, 0, sizeof(st));
    if (parse_syntax((const unsigned char *)sxbytes, sxlen, &sx) < 0)
        goto done;
    st.line = 1;
    st.inside = -1;
    if (n > PY_SSIZE_T_MAX / 8) {
        PyErr_SetString(PyExc_OverflowError, "tokenize(): input too large");
        goto done;
    }
    cap = tok_first_cap(n);
    if (tok_resize(res, &st, cap) < 0)
        goto done;
    for (;;) {
        if (n >= NOGIL_MIN_BYTES) {
            Py_BEGIN_ALLOW_THREADS
            rc = tokenize_impl((const unsigned char *)buf.buf, n, &sx, &st);
            Py_END_ALLOW_THREADS
        }
        else
            rc = tokenize_impl((const unsigned char *)buf.buf, n, &sx, &st);
        if (rc == LEX_NOMEM) {
            PyErr_NoMemory();
            goto done;
        }
        if (rc == LEX_DONE)
            break;
        cap = tok_grown_cap(st.cap, n);
        if (tok_resize(res, &st, cap) < 0)
            goto done;
    }
    if (tok_resize(res, &st, st.t) < 0)
        goto done;
    result = PyTuple_Pack(4, res[0], res[1], res[2], res[3]);
done:
    PyMem_RawFree(st.scratch);
    for (k = 0; k < 4; k++)
        Py_XDECREF(res[k]);
    PyBuffer_Release(&buf);
    return result;
}

/* ------------------------------------------------------------------------------------------------ */
/* Array arguments                                                                                   */

/* Get `obj` as a C-contiguous 1-D buffer of `itemsize`-byte integers; *count receives the number of
 * items.  Accepts integer formats of that size (signed or unsigned: the bits are what counts) and raw
 * bytes whose length is a multiple of itemsize.  On failure sets an exception and returns -1 (no
 * buffer is held). */
static int get_int_array(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *func,
                         const char *arg, const char *dtype, Py_ssize_t *count)
{
    const char *fmt;
    char code;
    int raw;
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s(): %s must be a buffer of %s (e.g. a numpy array), not %.100s", func, arg,
                     dtype, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->ndim != 1) {
        PyErr_Format(PyExc_ValueError, "%s(): %s must be one-dimensional, got %d dimensions", func,
                     arg, view->ndim);
        goto fail;
    }
    fmt = view->format ? view->format : "B";
    if (*fmt == '@' || *fmt == '=')
        fmt++;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    else if (*fmt == '<')
        fmt++;
#else
    else if (*fmt == '>' || *fmt == '!')
        fmt++;
#endif
    code = fmt[0];
    if (code == '\0' || fmt[1] != '\0' || strchr("bBchHiIlLqQnN", code) == NULL) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must be an array of %s, got buffer format '%s'", func,
                     arg, dtype, view->format ? view->format : "B");
        goto fail;
    }
    raw = view->itemsize == 1 && (code == 'B' || code == 'b' || code == 'c');
    if (!raw && view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError,
                     "%s(): %s must be an array of %s (item size %zd), got item size %zd (format '%s')",
                     func, arg, dtype, itemsize, view->itemsize, view->format ? view->format : "B");
        goto fail;
    }
    if (view->len % itemsize != 0) {
        PyErr_Format(PyExc_ValueError,
                     "%s(): %s has %zd bytes, not a whole number of %zd-byte %s items", func, arg,
                     view->len, itemsize, dtype);
        goto fail;
    }
    *count = view->len / itemsize;
    return 0;
fail:
    PyBuffer_Release(view);
    return -1;
}

/* ------------------------------------------------------------------------------------------------ */
/* kgrams                                                                                            */

#define KGRAM_BASE UINT64_C(0x100000001B3)

FP_INLINE uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* sum(t[j] * BASE**(k-1-j) for j < k), by Horner's rule. */
FP_INLINE uint64_t kgram_poly(const uint64_t *t, Py_ssize_t k)
{
    uint64_t acc = 0;
    Py_ssize_t j;
    for (j = 0; j < k; j++)
        acc = acc * KGRAM_BASE + t[j];
    return acc;
}

/* The rolling update acc' = (acc - t[i] * BASE**(k-1)) * BASE + t[i+k] is one long dependency chain,
 * so the output is cut into KGRAM_LANES segments whose chains run interleaved. */
#define KGRAM_LANES 4

static void kgrams_impl(const uint64_t *FP_RESTRICT t, Py_ssize_t m, Py_ssize_t k, uint64_t *FP_RESTRICT out)
{
    uint64_t top = 1; /* BASE**(k-1) */
    uint64_t acc[KGRAM_LANES];
    Py_ssize_t start[KGRAM_LANES];
    Py_ssize_t seg, i, j, lane;
    for (j = 1; j < k; j++)
        top *= KGRAM_BASE;
    seg = m / KGRAM_LANES;
    if (seg < 2 * k + 16) { /* short input: one chain */
        uint64_t a = kgram_poly(t, k);
        out[0] = mix64(a);
        for (i = 1; i < m; i++) {
            a = (a - t[i - 1] * top) * KGRAM_BASE + t[i + k - 1];
            out[i] = mix64(a);
        }
        return;
    }
    for (lane = 0; lane < KGRAM_LANES; lane++) {
        start[lane] = lane * seg;
        acc[lane] = kgram_poly(t + start[lane], k);
        out[start[lane]] = mix64(acc[lane]);
    }
    for (i = 1; i < seg; i++) {
        for (lane = 0; lane < KGRAM_LANES; lane++) {
            const Py_ssize_t p = start[lane] + i;
            acc[lane] = (acc[lane] - t[p - 1] * top) * KGRAM_BASE + t[p + k - 1];
            out[p] = mix64(acc[lane]);
        }
    }
    /* the last lane also covers the m % KGRAM_LANES leftovers */
    lane = KGRAM_LANES - 1;
    for (i = start[lane] + seg; i < m; i++) {
        acc[lane] = (acc[lane] - t[i - 1] * top) * KGRAM_BASE + t[i + k - 1];
        out[i] = mix64(acc[lane]);
    }
}

static PyObject *fp_kgrams(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"tokens", "k", NULL};
    PyObject *obj, *res;
    Py_ssize_t k, n, m;
    Py_buffer view;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "On:kgrams", kwlist, &obj, &k))
        return NULL;
    if (k < 1) {
        PyErr_Format(PyExc_ValueError, "kgrams(): k must be >= 1, got %zd", k);
        return NULL;
    }
    if (get_int_array(obj, &view, 8, "kgrams", "tokens", "uint64", &n) < 0)
        return NULL;
    m = n - k + 1;
    if (m <= 0) {
        PyBuffer_Release(&view);
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    res = PyBytes_FromStringAndSize(NULL, m * 8);
    if (res != NULL) {
        const uint64_t *t = (const uint64_t *)view.buf;
        uint64_t *o = (uint64_t *)PyBytes_AS_STRING(res);
        if (n >= NOGIL_MIN_ITEMS) {
            Py_BEGIN_ALLOW_THREADS
            kgrams_impl(t, m, k, o);
            Py_END_ALLOW_THREADS
        }
        else
            kgrams_impl(t, m, k, o);
    }
    PyBuffer_Release(&view);
    return res;
}

/* ------------------------------------------------------------------------------------------------ */
/* winnow                                                                                            */

/* Rightmost minimum of h[lo:hi] (hi > lo).  Branch-free body: compiles to conditional moves. */
FP_INLINE Py_ssize_t rightmost_min(const uint64_t *h, Py_ssize_t lo, Py_ssize_t hi)
{
    Py_ssize_t j, best = lo;
    uint64_t v = h[lo];
    for (j = lo + 1; j < hi; j++) {
        const uint64_t x = h[j];
        const int take = x <= v;
        v = take ? x : v;
        best = take ? j : best;
    }
    return best;
}

/* Robust winnowing over m > w hashes (Schleimer et al.): keep the current window's rightmost minimum;
 * a new hash <= it replaces it, and only when it leaves the window is the window rescanned (rare for
 * random hashes: about 2 / (w + 1) of the steps).  Every change of selection is a new position, so
 * each is written once.  Returns the number of positions written. */
static Py_ssize_t winnow_impl(const uint64_t *FP_RESTRICT h, Py_ssize_t m, Py_ssize_t w,
                              uint32_t *FP_RESTRICT out)
{
    Py_ssize_t r, nout = 0;
    Py_ssize_t mi = rightmost_min(h, 0, w);
    uint64_t mv = h[mi];
    out[nout++] = (uint32_t)mi;
    for (r = w; r < m; r++) {
        const uint64_t v = h[r];
        if (v <= mv) {
            mi = r;
            mv = v;
            out[nout++] = (uint32_t)mi;
        }
        else if (mi <= r - w) {
            mi = rightmost_min(h, r - w + 1, r + 1);
            mv = h[mi];
            out[nout++] = (uint32_t)mi;
        }
    }
    return nout;
}

static PyObject *fp_winnow(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"hashes", "w", NULL};
    PyObject *obj, *res = NULL;
    Py_ssize_t w, m;
    Py_buffer view;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "On:winnow", kwlist, &obj, &w))
        return NULL;
    if (w < 1) {
        PyErr_Format(PyExc_ValueError, "winnow(): w must be >= 1, got %zd", w);
        return NULL;
    }
    if (get_int_array(obj, &view, 8, "winnow", "hashes", "uint64", &m) < 0)
        return NULL;
    if (m == 0) {
        res = PyBytes_FromStringAndSize(NULL, 0);
    }
    else if (m <= w) {
        /* a single window: its rightmost minimum */
        const uint32_t pos = (uint32_t)rightmost_min((const uint64_t *)view.buf, 0, m);
        res = PyBytes_FromStringAndSize((const char *)&pos, 4);
    }
    else {
        Py_ssize_t nout;
        res = PyBytes_FromStringAndSize(NULL, (m - w + 1) * 4);
        if (res == NULL)
            goto done;
        if (m >= NOGIL_MIN_ITEMS) {
            Py_BEGIN_ALLOW_THREADS
            nout = winnow_impl((const uint64_t *)view.buf, m, w, (uint32_t *)PyBytes_AS_STRING(res));
            Py_END_ALLOW_THREADS
        }
        else
            nout = winnow_impl((const uint64_t *)view.buf, m, w, (uint32_t *)PyBytes_AS_STRING(res));
        if (shrink_bytes(&res, nout * 4) < 0)
            res = NULL;
    }
done:
    PyBuffer_Release(&view);
    return res;
}

/* ------------------------------------------------------------------------------------------------ */
/* minhash                                                                                           */

FP_INLINE uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= UINT32_C(0x85EBCA6B);
    h ^= h >> 13;
    h *= UINT32_C(0xC2B2AE35);
    return h ^ (h >> 16);
}

FP_INLINE void minhash_body(const uint64_t *FP_RESTRICT values, Py_ssize_t nvalues,
                            const uint32_t *FP_RESTRICT a, const uint32_t *FP_RESTRICT b, Py_ssize_t nperm,
                            uint32_t *FP_RESTRICT sig)
{
    Py_ssize_t i, p;
    for (p = 0; p < nperm; p++)
        sig[p] = UINT32_C(0xFFFFFFFF);
    for (i = 0; i < nvalues; i++) {
        const uint32_t hv = fmix32((uint32_t)values[i]);
        /* contiguous and branch-free: the compiler vectorises this loop */
        for (p = 0; p < nperm; p++) {
            const uint32_t x = a[p] * hv + b[p];
            sig[p] = x < sig[p] ? x : sig[p];
        }
    }
}

/* Baseline x86-64 (SSE2) has no 32-bit vector multiply or unsigned min; where the CPU has AVX2 a
 * second copy of the loop uses it (chosen at import). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define FP_HAVE_AVX2_PATH 1
__attribute__((target("avx2"))) static void minhash_avx2(const uint64_t *FP_RESTRICT values,
                                                         Py_ssize_t nvalues, const uint32_t *FP_RESTRICT a,
                                                         const uint32_t *FP_RESTRICT b, Py_ssize_t nperm,
                                                         uint32_t *FP_RESTRICT sig)
{
    minhash_body(values, nvalues, a, b, nperm, sig);
}
#endif

static int use_avx2;

static void minhash_impl(const uint64_t *FP_RESTRICT values, Py_ssize_t nvalues,
                         const uint32_t *FP_RESTRICT a, const uint32_t *FP_RESTRICT b, Py_ssize_t nperm,
                         uint32_t *FP_RESTRICT sig)
{
#ifdef FP_HAVE_AVX2_PATH
    if (use_avx2) {
        minhash_avx2(values, nvalues, a, b, nperm, sig);
        return;
    }
#endif
    minhash_body(values, nvalues, a, b, nperm, sig);
}

static PyObject *fp_minhash(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"values", "a", "b", NULL};
    PyObject *vobj, *aobj, *bobj, *res = NULL;
    Py_buffer vv, av, bv;
    Py_ssize_t nv, na, nb;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:minhash", kwlist, &vobj, &aobj, &bobj))
        return NULL;
    if (get_int_array(vobj, &vv, 8, "minhash", "values", "uint64", &nv) < 0)
        return NULL;
    if (get_int_array(aobj, &av, 4, "minhash", "a", "uint32", &na) < 0)
        goto release_v;
    if (get_int_array(bobj, &bv, 4, "minhash", "b", "uint32", &nb) < 0)
        goto release_a;
    if (na != nb) {
        PyErr_Format(PyExc_ValueError, "minhash(): a and b must have the same length, got %zd and %zd",
                     na, nb);
        goto release_b;
    }
    if (na > PY_SSIZE_T_MAX / 4) {
        PyErr_NoMemory();
        goto release_b;
    }
    res = PyBytes_FromStringAndSize(NULL, na * 4);
    if (res != NULL) {
        const uint64_t *v = (const uint64_t *)vv.buf;
        const uint32_t *a = (const uint32_t *)av.buf, *b = (const uint32_t *)bv.buf;
        uint32_t *sig = (uint32_t *)PyBytes_AS_STRING(res);
        if (na > 0 && nv >= NOGIL_MIN_PRODUCTS / na) {
            Py_BEGIN_ALLOW_THREADS
            minhash_impl(v, nv, a, b, na, sig);
            Py_END_ALLOW_THREADS
        }
        else
            minhash_impl(v, nv, a, b, na, sig);
    }
release_b:
    PyBuffer_Release(&bv);
release_a:
    PyBuffer_Release(&av);
release_v:
    PyBuffer_Release(&vv);
    return res;
}

/* ------------------------------------------------------------------------------------------------ */
/* xxh64 (for tests and tools)                                                                       */

static PyObject *fp_xxh64(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data", "seed", NULL};
    Py_buffer buf;
    unsigned long long seed = 0;
    uint64_t h;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|K:xxh64", kwlist, &buf, &seed))
        return NULL;
    h = xxh64((const unsigned char *)buf.buf, (size_t)buf.len, (uint64_t)seed);
    PyBuffer_Release(&buf);
    return PyLong_FromUnsignedLongLong((unsigned long long)h);
}

/* ------------------------------------------------------------------------------------------------ */
/* index_fingerprint: everything ingestion needs from one file, in one call without the GIL          */

/* ------------------------------------------------------------------------------------------------ */
/* sorting 64-bit keys                                                                               */

/* Below this many items an insertion sort beats the radix passes (their 256-slot counts). */
#define RADIX_MIN_ITEMS 64

FP_INLINE void insertion_sort_u64(uint64_t *a, Py_ssize_t n)
{
    Py_ssize_t i, j;
    for (i = 1; i < n; i++) {
        const uint64_t v = a[i];
        for (j = i; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

/* Sorts a[0:n] ascending: LSD radix, a byte at a time, skipping a byte every key shares (tmp: n slots
 * of scratch).  One counting pass makes all eight histograms.  It replaced qsort with a comparison
 * function, which was 7 % of an index build's time. */
static void sort_u64(uint64_t *FP_RESTRICT a, Py_ssize_t n, uint64_t *FP_RESTRICT tmp)
{
    Py_ssize_t count[8][256];
    Py_ssize_t i;
    uint64_t *src = a, *dst = tmp;
    int byte;
    if (n < RADIX_MIN_ITEMS) {
        insertion_sort_u64(a, n);
        return;
    }
    memset(count, 0, sizeof(count));
    for (i = 0; i < n; i++) {
        const uint64_t v = a[i];
        for (byte = 0; byte < 8; byte++)
            count[byte][(v >> (8 * byte)) & 0xFF]++;
    }
    for (byte = 0; byte < 8; byte++) {
        Py_ssize_t *c = count[byte], sum = 0, d;
        const int shift = 8 * byte;
        uint64_t *swap;
        if (c[(src[0] >> shift) & 0xFF] == n) /* every key has this byte: the pass would change nothing */
            continue;
        for (d = 0; d < 256; d++) {
            const Py_ssize_t here = c[d];
            c[d] = sum;
            sum += here;
        }
        for (i = 0; i < n; i++) {
            const uint64_t v = src[i];
            dst[c[(v >> shift) & 0xFF]++] = v;
        }
        swap = src;
        src = dst;
        dst = swap;
    }
    if (src != a)
        memcpy(a, src, (size_t)n * sizeof(uint64_t));
}

/* Selected hashes of one view appended to sel (winnowing as fp_winnow, incl. the single window). */
static Py_ssize_t select_view(const uint64_t *kg, Py_ssize_t m, Py_ssize_t w, uint32_t *pos, uint64_t *sel)
{
    Py_ssize_t np, i;
    if (m <= w) {
        pos[0] = (uint32_t)rightmost_min(kg, 0, m);
        np = 1;
    }
    else
        np = winnow_impl(kg, m, w, pos);
    for (i = 0; i < np; i++)
        sel[i] = kg[pos[i]];
    return np;
}

/* Lexes d[0:n] with sx into st (zeroed by the caller; its arrays PyMem_Raw, freed by tok_free).  Returns
 * 0, or -1 when out of memory. */
static int tokenize_all(const unsigned char *d, Py_ssize_t n, const syntax_t *sx, tok_state *st)
{
    Py_ssize_t cap = tok_first_cap(n);
    st->line = 1;
    st->inside = -1;
    if (cap < 1)
        cap = 1;
    for (;;) {
        uint64_t *e = PyMem_RawRealloc(st->exact, (size_t)cap * 8);
        uint32_t *l;
        int rc;
        if (e == NULL)
            return -1;
        st->exact = e;
        e = PyMem_RawRealloc(st->abstract, (size_t)cap * 8);
        if (e == NULL)
            return -1;
        st->abstract = e;
        l = PyMem_RawRealloc(st->line_start, (size_t)cap * 4);
        if (l == NULL)
            return -1;
        st->line_start = l;
        l = PyMem_RawRealloc(st->line_end, (size_t)cap * 4);
        if (l == NULL)
            return -1;
        st->line_end = l;
        st->cap = cap;
        rc = tokenize_impl(d, n, sx, st);
        if (rc == LEX_NOMEM)
            return -1;
        if (rc == LEX_DONE)
            return 0;
        cap = tok_grown_cap(st->cap, n);
    }
}

static void tok_free(tok_state *st)
{
    PyMem_RawFree(st->exact);
    PyMem_RawFree(st->abstract);
    PyMem_RawFree(st->line_start);
    PyMem_RawFree(st->line_end);
    PyMem_RawFree(st->scratch);
}

/* The hashes one view of m k-grams gives the index, appended to sel: every k-gram of a text of fewer than
 * `tiny` tokens, else the winnowed ones.  kg: its k-grams (written here); pos: m slots of scratch. */
static Py_ssize_t index_view(const uint64_t *tokens, Py_ssize_t m, Py_ssize_t k, Py_ssize_t w, Py_ssize_t tiny,
                             uint64_t *kg, uint32_t *pos, uint64_t *sel)
{
    kgrams_impl(tokens, m, k, kg);
    if (m + k - 1 < tiny) {
        memcpy(sel, kg, (size_t)m * 8);
        return m;
    }
    return select_view(kg, m, w, pos, sel);
}

/* Whether d[0:n] holds one of sx's block-comment openers. */
static int has_block_opener(const unsigned char *d, Py_ssize_t n, const syntax_t *sx)
{
    int j;
    for (j = 0; j < sx->nblock; j++)
        if (find_seq(d, n, 0, (const char *)sx->bopen[j], sx->bolen[j]) >= 0)
            return 1;
    return 0;
}

/* Sorts h[0:n] (scratch: n slots) and drops repeats; returns how many are left. */
static Py_ssize_t sort_unique_u64(uint64_t *h, Py_ssize_t n, uint64_t *scratch)
{
    Py_ssize_t i, u;
    sort_u64(h, n, scratch);
    for (i = 0, u = 0; i < n; i++)
        if (u == 0 || h[i] != h[u - 1])
            h[u++] = h[i];
    return u;
}

/* First index of `v` in the ascending array a[0:n], or n. */
FP_INLINE Py_ssize_t lower_bound(const uint64_t *a, Py_ssize_t n, uint64_t v)
{
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        const Py_ssize_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A large text's line keys (fingerprint.sparse_starts): of its m k-grams that begin a line (their first
 * token on a line after the previous token's last), each whose piece of `sparse` lines from its own on
 * holds fewer than k + w - 1 tokens and none of its view's winnowed k-grams (ascending positions: the
 * exact view's pe[0:ne], the abstract one's pa[0:na], read only when shape_salt asks for shape keys),
 * hashed and, unless held[0:u] (sorted) holds it, written to out xor its view's salt.  Returns how many. */
static Py_ssize_t sparse_line_keys(const tok_state *st, Py_ssize_t m, Py_ssize_t k, Py_ssize_t w,
                                   Py_ssize_t sparse, const uint32_t *pe, Py_ssize_t ne, const uint32_t *pa,
                                   Py_ssize_t na, const uint64_t *held, Py_ssize_t u, uint64_t salt,
                                   uint64_t shape_salt, uint64_t *out)
{
    const uint32_t *chosen[2] = {pe, pa};
    const Py_ssize_t nchosen[2] = {ne, na};
    const uint64_t *toks[2] = {st->exact, st->abstract};
    const uint64_t keys[2] = {salt, shape_salt};
    const int views = shape_salt != 0 ? 2 : 1;
    Py_ssize_t i, end = 0, at[2] = {0, 0}, n = 0;
    int v;
    for (i = 0; i < m; i++) {
        const uint64_t stop = (uint64_t)st->line_start[i] + (uint64_t)sparse;
        Py_ssize_t last;
        if (i > 0 && st->line_start[i] <= st->line_end[i - 1])
            continue;
        while (end < st->t && st->line_start[end] < stop)
            end++;
        if (end - i >= k + w - 1) /* the piece [i, end) is within the winnowing guarantee */
            continue;
        last = end - k > i ? end - k : i; /* its last k-gram, or its first if it holds fewer tokens */
        for (v = 0; v < views; v++) {
            uint64_t h;
            Py_ssize_t where;
            while (at[v] < nchosen[v] && (Py_ssize_t)chosen[v][at[v]] < i)
                at[v]++;
            if (at[v] < nchosen[v] && (Py_ssize_t)chosen[v][at[v]] <= last)
                continue; /* a k-gram of the piece is winnowed */
            h = mix64(kgram_poly(toks[v] + i, k));
            where = lower_bound(held, u, h);
            if (where == u || held[where] != h)
                out[n++] = h ^ keys[v];
        }
    }
    return n;
}

/* Returns 0, or -1 when out of memory.  *hashes (PyMem_Raw) receives the sorted distinct hashes the
 * index keeps of both views (fingerprint.index_fingerprint: every k-gram of a text under `tiny` tokens,
 * else the winnowed ones), and, when code_sx is given and the text has block comments, those of its code
 * alone lexed with code_sx (fingerprint.code_hashes); for a text of at least `tiny` and fewer than `dense`
 * tokens, also every exact k-gram not among those, xor `salt` (fingerprint.dense_keys), and for one of
 * at least `dense` and fewer than `lines` tokens those of them that begin a line (their first token on a
 * line after the previous token's last); with `shape_salt`, a text of `tiny` to `dense` tokens also every
 * abstract k-gram not among the hashes above, xor `shape_salt` (fingerprint.shape_keys), one of `dense`
 * to `lines` tokens those of them that begin a line; with `sparse`, a text of `lines` tokens and more
 * keeps of both views' k-grams that begin a line those whose piece of `sparse` lines (from theirs on)
 * holds fewer than k + w - 1 tokens and no k-gram of that view's winnowed ones (sparse_starts); sig the
 * MinHash of the winnowed exact k-grams of the text (all 0xFFFFFFFF if none). */
static int index_fp_impl(const unsigned char *d, Py_ssize_t n, const syntax_t *sx, const syntax_t *code_sx,
                         Py_ssize_t k, Py_ssize_t w, Py_ssize_t tiny, Py_ssize_t dense, Py_ssize_t lines,
                         Py_ssize_t sparse, uint64_t salt, uint64_t shape_salt,
                         const uint32_t *a, const uint32_t *b, Py_ssize_t nperm, uint32_t *sig,
                         uint64_t **hashes, Py_ssize_t *nhashes, Py_ssize_t *ntokens)
{
    tok_state st, code;
    Py_ssize_t m, ne, na, nsel, i, u;
    uint64_t *kg = NULL, *sel = NULL;
    uint32_t *pos = NULL;
    int ok = -1;

    memset(&st, 0, sizeof(st));
    memset(&code, 0, sizeof(code));
    *hashes = NULL;
    *nhashes = 0;
    if (tokenize_all(d, n, sx, &st) < 0)
        goto done;
    *ntokens = st.t;
    for (i = 0; i < nperm; i++)
        sig[i] = UINT32_C(0xFFFFFFFF);
    m = st.t - k + 1;
    if (m <= 0) {
        ok = 0;
        goto done;
    }
    /* kg: one view's k-grams at a time; sel: what two views of m k-grams each select (every one at
     * most), grown below for the code alone's two views (it has fewer tokens); pos: the exact view's
     * winnowed positions, then the abstract one's (a large text's sparse lines read both), then the
     * code alone's, one view at a time. */
    kg = PyMem_RawMalloc((size_t)m * 8);
    sel = PyMem_RawMalloc((size_t)m * 16);
    pos = PyMem_RawMalloc((size_t)m * 12);
    if (kg == NULL || sel == NULL || pos == NULL)
        goto done;
    kgrams_impl(st.exact, m, k, kg);
    ne = select_view(kg, m, w, pos, sel);
    minhash_impl(sel, ne, a, b, nperm, sig); /* the winnowed exact k-grams, whatever the text's size */
    nsel = st.t < tiny ? index_view(st.exact, m, k, w, tiny, kg, pos, sel) : ne;
    na = index_view(st.abstract, m, k, w, tiny, kg, pos + m, sel + nsel);
    nsel += na;
    if (code_sx != NULL && has_block_opener(d, n, code_sx)) {
        if (tokenize_all(d, n, code_sx, &code) < 0)
            goto done;
        if (code.t < st.t && code.t >= k) {
            const Py_ssize_t mc = code.t - k + 1;
            uint64_t *more = PyMem_RawRealloc(sel, (size_t)(nsel + 2 * mc) * 8);
            if (more == NULL)
                goto done;
            sel = more;
            nsel += index_view(code.exact, mc, k, w, tiny, kg, pos + 2 * m, sel + nsel);
            nsel += index_view(code.abstract, mc, k, w, tiny, kg, pos + 2 * m, sel + nsel);
        }
    }
    if (nsel > m) { /* the sort's scratch: kg holds m */
        PyMem_RawFree(kg);
        kg = PyMem_RawMalloc((size_t)nsel * 8);
        if (kg == NULL)
            goto done;
    }
    u = sort_unique_u64(sel, nsel, kg);
    if (st.t >= tiny && (st.t < dense || st.t < lines || sparse > 0)) {
        /* The exact k-grams the hashes above leave out, under their dense keys (a text of `dense` tokens
         * and more: those that begin a line; of `lines` and more: those of them on sparse lines), then
         * the abstract ones under their shape keys: sel grows to hold them all, and the sort's scratch
         * with it. */
        const int every = st.t < dense, large = st.t >= lines && st.t >= dense;
        const int shapes = shape_salt != 0;
        Py_ssize_t extra = 0;
        uint64_t *more = PyMem_RawRealloc(sel, (size_t)(u + 2 * m) * 8), *scratch;
        int view;
        if (more == NULL)
            goto done;
        sel = more;
        scratch = PyMem_RawRealloc(kg, (size_t)(u + 2 * m) * 8);
        if (scratch == NULL)
            goto done;
        kg = scratch;
        if (large) /* one pass over the lines for both views */
            extra = sparse_line_keys(&st, m, k, w, sparse, pos, ne, pos + m, na, sel, u, salt, shape_salt,
                                     sel + u);
        for (view = 0; !large && view < 1 + shapes; view++) {
            const uint64_t key = view == 0 ? salt : shape_salt;
            kgrams_impl(view == 0 ? st.exact : st.abstract, m, k, kg);
            for (i = 0; i < m; i++) {
                Py_ssize_t at;
                if (!every && i > 0 && st.line_start[i] <= st.line_end[i - 1])
                    continue;
                at = lower_bound(sel, u, kg[i]);
                if (at == u || sel[at] != kg[i])
                    sel[u + extra++] = kg[i] ^ key;
            }
        }
        if (extra > 0) { /* sort the keys alone, then merge them with the sorted hashes into kg */
            const uint64_t *keys = sel + u;
            Py_ssize_t nk = sort_unique_u64(sel + u, extra, kg), from_sel = 0, from_keys = 0, merged = 0;
            uint64_t *swap;
            while (from_sel < u || from_keys < nk) {
                const uint64_t next = from_keys == nk || (from_sel < u && sel[from_sel] <= keys[from_keys])
                                          ? sel[from_sel++]
                                          : keys[from_keys++];
                if (merged == 0 || kg[merged - 1] != next)
                    kg[merged++] = next;
            }
            swap = sel; /* both hold u + 2 * m */
            sel = kg;
            kg = swap;
            u = merged;
        }
    }
    *hashes = sel;
    *nhashes = u;
    sel = NULL;
    ok = 0;
done:
    tok_free(&st);
    tok_free(&code);
    PyMem_RawFree(kg);
    PyMem_RawFree(sel);
    PyMem_RawFree(pos);
    return ok;
}

static PyObject *fp_index_fingerprint(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data", "k",     "w",     "a",    "b",     "syntax",
                             "code_syntax", "tiny", "dense", "salt", "lines", "shape_salt", "sparse", NULL};
    Py_buffer buf, av, bv;
    PyObject *aobj, *bobj, *sigobj = NULL, *hobj = NULL, *res = NULL;
    Py_ssize_t k, w, na, nb, nh = 0, nt = 0, sxlen, code_len = 0, tiny = 0, dense = 0, lines = 0, sparse = 0;
    unsigned long long salt = 0, shape_salt = 0;
    const char *sxbytes, *code_bytes = NULL;
    syntax_t sx, code_sx;
    uint64_t *hashes = NULL;
    int rc;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*nnOOy#|z#nnKnKn:index_fingerprint", kwlist, &buf, &k,
                                     &w, &aobj, &bobj, &sxbytes, &sxlen, &code_bytes, &code_len, &tiny, &dense,
                                     &salt, &lines, &shape_salt, &sparse))
        return NULL;
    if (parse_syntax((const unsigned char *)sxbytes, sxlen, &sx) < 0 ||
        (code_bytes != NULL && parse_syntax((const unsigned char *)code_bytes, code_len, &code_sx) < 0)) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    if (k < 1 || w < 1) {
        PyErr_Format(PyExc_ValueError, "index_fingerprint(): k and w must be >= 1, got %zd and %zd", k, w);
        PyBuffer_Release(&buf);
        return NULL;
    }
    if (buf.len > PY_SSIZE_T_MAX / 16) {
        PyErr_SetString(PyExc_OverflowError, "index_fingerprint(): input too large");
        PyBuffer_Release(&buf);
        return NULL;
    }
    if (get_int_array(aobj, &av, 4, "index_fingerprint", "a", "uint32", &na) < 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    if (get_int_array(bobj, &bv, 4, "index_fingerprint", "b", "uint32", &nb) < 0)
        goto release_a;
    if (na != nb) {
        PyErr_Format(PyExc_ValueError, "index_fingerprint(): a and b must have the same length, got %zd and %zd",
                     na, nb);
        goto release_b;
    }
    sigobj = PyBytes_FromStringAndSize(NULL, na * 4);
    if (sigobj == NULL)
        goto release_b;
    Py_BEGIN_ALLOW_THREADS
    rc = index_fp_impl((const unsigned char *)buf.buf, buf.len, &sx, code_bytes != NULL ? &code_sx : NULL, k, w,
                       tiny, dense, lines, sparse, (uint64_t)salt, (uint64_t)shape_salt, (const uint32_t *)av.buf,
                       (const uint32_t *)bv.buf, na,
                       (uint32_t *)PyBytes_AS_STRING(sigobj), &hashes, &nh, &nt);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto release_b;
    }
    hobj = PyBytes_FromStringAndSize((const char *)hashes, nh * 8);
    PyMem_RawFree(hashes);
    if (hobj != NULL)
        res = Py_BuildValue("(OOn)", hobj, sigobj, nt);
release_b:
    PyBuffer_Release(&bv);
release_a:
    PyBuffer_Release(&av);
    PyBuffer_Release(&buf);
    Py_XDECREF(hobj);
    Py_XDECREF(sigobj);
    return res;
}

/* ------------------------------------------------------------------------------------------------ */
/* seed_runs: the seeding half of the alignment (index/align.py)                                    */

/* Every maximal token-exact common run (same diagonal, grown both ways while tokens agree) that holds
 * at least one shared k-gram seed; a k-gram occurring more than max_repeats times in the query seeds
 * nothing.  Stores (query start, document start, length) triples in a buffer it allocates (*outp; the
 * caller frees it) and returns their number, or -1 when out of memory.  The buffer grows as needed: a
 * document k-gram repeated in the query seeds one run per query position (on different diagonals), so
 * there can be more runs than document k-grams.
 * *hits receives how many document k-grams the query shares (before the repeat filter); with fewer than
 * `need` nothing is grown. */
static Py_ssize_t seed_runs_impl(const uint64_t *sorted, const int64_t *order, Py_ssize_t nq_k,
                                 const uint64_t *dk, Py_ssize_t nd_k, const uint64_t *qt, Py_ssize_t nq,
                                 const uint64_t *dt, Py_ssize_t nd, Py_ssize_t k, Py_ssize_t max_repeats,
                                 Py_ssize_t need, Py_ssize_t *hits, int64_t **outp)
{
    uint8_t filter[1 << 13]; /* one bit per value of a k-gram's low 16 bits */
    Py_ssize_t *pos, *diag_end;
    Py_ssize_t i, j, nhit = 0, nout = 0, cap = 0;
    int64_t *out = NULL;
    *outp = NULL;
    memset(filter, 0, sizeof filter);
    for (i = 0; i < nq_k; i++) {
        const unsigned lo = (unsigned)(sorted[i] & 0xFFFFu);
        filter[lo >> 3] |= (uint8_t)(1u << (lo & 7));
    }
    pos = (Py_ssize_t *)malloc((size_t)(nd_k > 0 ? nd_k : 1) * 2 * sizeof(Py_ssize_t)); /* (j, at) */
    if (pos == NULL)
        return -1;
    for (j = 0; j < nd_k; j++) { /* shared positions: the filter rejects most, a binary search confirms */
        const unsigned lo = (unsigned)(dk[j] & 0xFFFFu);
        if (filter[lo >> 3] & (1u << (lo & 7))) {
            const Py_ssize_t at = lower_bound(sorted, nq_k, dk[j]);
            if (at < nq_k && sorted[at] == dk[j]) {
                pos[2 * nhit] = j;
                pos[2 * nhit + 1] = at;
                nhit++;
            }
        }
    }
    *hits = nhit;
    if (nhit < need || nhit == 0) {
        free(pos);
        return 0;
    }
    /* diag_end[j - q + nq]: where the last run grown on that diagonal ends in the document; a seed
     * before it lies inside that run (runs are maximal, so it would grow into the same one). */
    diag_end = (Py_ssize_t *)calloc((size_t)(nq + nd + 1), sizeof(Py_ssize_t));
    if (diag_end == NULL) {
        free(pos);
        return -1;
    }
    for (i = 0; i < nhit; i++) {
        const Py_ssize_t d = pos[2 * i], at = pos[2 * i + 1];
        Py_ssize_t cnt = 0, c;
        while (at + cnt < nq_k && sorted[at + cnt] == dk[d] && cnt <= max_repeats)
            cnt++;
        if (cnt > max_repeats)
            continue;
        for (c = 0; c < cnt; c++) {
            const Py_ssize_t q = (Py_ssize_t)order[at + c];
            const Py_ssize_t diag = d - q + nq;
            Py_ssize_t qs = q, ds = d, qe = q + k, de = d + k;
            if (d < diag_end[diag])
                continue;
            while (qs > 0 && ds > 0 && qt[qs - 1] == dt[ds - 1]) {
                qs--;
                ds--;
            }
            while (qe < nq && de < nd && qt[qe] == dt[de]) {
                qe++;
                de++;
            }
            diag_end[diag] = de;
            if (nout == cap) {
                const Py_ssize_t more = cap > 0 ? 2 * cap : (nd_k > 16 ? nd_k : 16);
                int64_t *grown = (int64_t *)realloc(out, (size_t)more * 3 * sizeof(int64_t));
                if (grown == NULL) {
                    free(out);
                    free(diag_end);
                    free(pos);
                    return -1;
                }
                out = grown;
                cap = more;
            }
            out[3 * nout] = qs;
            out[3 * nout + 1] = ds;
            out[3 * nout + 2] = qe - qs;
            nout++;
        }
    }
    free(diag_end);
    free(pos);
    *outp = out;
    return nout;
}

static PyObject *fp_seed_runs(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"sorted", "order", "dk", "qt", "dt", "k", "max_repeats", "need", NULL};
    PyObject *objs[5], *runs = NULL, *res = NULL;
    Py_buffer views[5];
    Py_ssize_t counts[5], k, max_repeats, need, hits = 0, n = 0, got = 0;
    static const char *names[5] = {"sorted", "order", "dk", "qt", "dt"};
    int64_t *out = NULL;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOnnn:seed_runs", kwlist, &objs[0], &objs[1],
                                     &objs[2], &objs[3], &objs[4], &k, &max_repeats, &need))
        return NULL;
    if (k < 1) {
        PyErr_Format(PyExc_ValueError, "seed_runs(): k must be >= 1, got %zd", k);
        return NULL;
    }
    for (got = 0; got < 5; got++)
        if (get_int_array(objs[got], &views[got], 8, "seed_runs", names[got], "64-bit integers",
                          &counts[got]) < 0)
            goto done;
    if (counts[1] != counts[0] || counts[2] != (counts[4] >= k ? counts[4] - k + 1 : 0)
        || counts[0] != (counts[3] >= k ? counts[3] - k + 1 : 0)) {
        PyErr_SetString(PyExc_ValueError,
                        "seed_runs(): sorted and order must be the query's k-grams, dk the document's");
        goto done;
    }
    {
        const int64_t *order = (const int64_t *)views[1].buf;
        Py_ssize_t i;
        for (i = 0; i < counts[1]; i++)
            if (order[i] < 0 || order[i] >= counts[0]) {
                PyErr_SetString(PyExc_ValueError, "seed_runs(): order holds a position out of range");
                goto done;
            }
    }
    Py_BEGIN_ALLOW_THREADS
    n = seed_runs_impl((const uint64_t *)views[0].buf, (const int64_t *)views[1].buf, counts[0],
                       (const uint64_t *)views[2].buf, counts[2], (const uint64_t *)views[3].buf,
                       counts[3], (const uint64_t *)views[4].buf, counts[4], k, max_repeats, need,
                       &hits, &out);
    Py_END_ALLOW_THREADS
    if (n < 0) {
        PyErr_NoMemory();
        goto done;
    }
    runs = PyBytes_FromStringAndSize(n > 0 ? (const char *)out : NULL, n * 3 * 8);
    free(out);
    if (runs == NULL)
        goto done;
    res = Py_BuildValue("nO", hits, runs);
done:
    Py_XDECREF(runs);
    while (got-- > 0)
        PyBuffer_Release(&views[got]);
    return res;
}

/* ------------------------------------------------------------------------------------------------ */
/* tile: greedy string tiling of the seeded runs (index/align.py)                                  */

/* Order of the tiling: longest first, then by query start, then by document start. */
static int tile_order(const void *a, const void *b)
{
    const int64_t *x = (const int64_t *)a, *y = (const int64_t *)b;
    if (x[2] != y[2])
        return x[2] > y[2] ? -1 : 1;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    if (x[1] != y[1])
        return x[1] < y[1] ? -1 : 1;
    return 0;
}

/* Order of the answer: by query start, then by document start. */
static int tile_position(const void *a, const void *b)
{
    const int64_t *x = (const int64_t *)a, *y = (const int64_t *)b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    if (x[1] != y[1])
        return x[1] < y[1] ? -1 : 1;
    return x[2] < y[2] ? -1 : (x[2] > y[2]);
}

/* Order of the chosen tiles' lookup: by query start, then length, then document start. */
static int tile_start_length(const void *a, const void *b)
{
    const int64_t *x = (const int64_t *)a, *y = (const int64_t *)b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    if (x[2] != y[2])
        return x[2] < y[2] ? -1 : 1;
    return x[1] < y[1] ? -1 : (x[1] > y[1]);
}

/* First chosen tile (rows of q, d, n sorted by tile_start_length) at or after (q, n), or m. */
static Py_ssize_t chosen_at(const int64_t *chosen, Py_ssize_t m, int64_t q, int64_t n)
{
    Py_ssize_t lo = 0, hi = m;
    while (lo < hi) {
        const Py_ssize_t mid = lo + (hi - lo) / 2;
        const int64_t *c = chosen + 3 * mid;
        if (c[0] < q || (c[0] == q && c[2] < n))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* align.tile's reference semantics on `nr` runs (q, d, n triples, sorted here in place by tile_order):
 * a run whose query tokens are free is taken; one overlapping earlier tiles keeps its free part when
 * that is one piece of at least k tokens; once fewer than k query tokens are free nothing more fits.
 * Then every run with the query start and length of a chosen tile, at another document start, is
 * added (the same lines elsewhere in the document).  Writes the tiles, sorted by tile_position, to a
 * buffer it allocates (*outp; the caller frees it) and returns their number, or -1 when out of memory. */
static Py_ssize_t tile_impl(int64_t *runs, Py_ssize_t nr, Py_ssize_t nq, Py_ssize_t k, int64_t **outp)
{
    uint8_t *taken;
    int64_t *out, *chosen;
    Py_ssize_t i, nout = 0, nchosen, free_left = nq;
    *outp = NULL;
    qsort(runs, (size_t)nr, 3 * sizeof(int64_t), tile_order);
    taken = (uint8_t *)calloc((size_t)(nq > 0 ? nq : 1), 1);
    /* each run gives at most one tile and one repeat (a trimmed tile's run can also repeat another) */
    out = (int64_t *)malloc((size_t)(nr > 0 ? 2 * nr : 1) * 3 * sizeof(int64_t));
    if (taken == NULL || out == NULL) {
        free(taken);
        free(out);
        return -1;
    }
    for (i = 0; i < nr && free_left >= k; i++) {
        int64_t q0 = runs[3 * i], d0 = runs[3 * i + 1], n = runs[3 * i + 2], j;
        int64_t ones = 0, first = -1, last = -1;
        for (j = 0; j < n; j++) {
            if (taken[q0 + j])
                ones++;
            else {
                if (first < 0)
                    first = j;
                last = j;
            }
        }
        if (n - ones < k)
            continue;
        if (ones) { /* overlaps a longer tile: keep the free part if it is one piece */
            if (last + 1 - first != n - ones)
                continue;
            q0 += first;
            d0 += first;
            n -= ones;
        }
        memset(taken + q0, 1, (size_t)n);
        free_left -= n;
        out[3 * nout] = q0;
        out[3 * nout + 1] = d0;
        out[3 * nout + 2] = n;
        nout++;
    }
    free(taken);
    nchosen = nout;
    if (nchosen > 0) {
        chosen = (int64_t *)malloc((size_t)nchosen * 3 * sizeof(int64_t));
        if (chosen == NULL) {
            free(out);
            return -1;
        }
        memcpy(chosen, out, (size_t)nchosen * 3 * sizeof(int64_t));
        qsort(chosen, (size_t)nchosen, 3 * sizeof(int64_t), tile_start_length);
        for (i = 0; i < nr; i++) {
            const int64_t q0 = runs[3 * i], d0 = runs[3 * i + 1], n = runs[3 * i + 2];
            Py_ssize_t at = chosen_at(chosen, nchosen, q0, n), c;
            int same_place = 0;
            if (at == nchosen || chosen[3 * at] != q0 || chosen[3 * at + 2] != n)
                continue; /* no chosen tile of this query start and length */
            for (c = at; c < nchosen && chosen[3 * c] == q0 && chosen[3 * c + 2] == n; c++)
                if (chosen[3 * c + 1] == d0)
                    same_place = 1;
            if (same_place)
                continue;
            out[3 * nout] = q0;
            out[3 * nout + 1] = d0;
            out[3 * nout + 2] = n;
            nout++;
        }
        free(chosen);
    }
    qsort(out, (size_t)nout, 3 * sizeof(int64_t), tile_position);
    *outp = out;
    return nout;
}

static PyObject *fp_tile(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"runs", "nq", "k", NULL};
    PyObject *obj, *res = NULL;
    Py_buffer view;
    Py_ssize_t count, nq, k, nr, n = 0, i;
    int64_t *runs = NULL, *out = NULL;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Onn:tile", kwlist, &obj, &nq, &k))
        return NULL;
    if (k < 1 || nq < 0) {
        PyErr_Format(PyExc_ValueError, "tile(): k must be >= 1 and nq >= 0, got k=%zd, nq=%zd", k, nq);
        return NULL;
    }
    if (get_int_array(obj, &view, 8, "tile", "runs", "64-bit integers", &count) < 0)
        return NULL;
    if (count % 3) {
        PyErr_SetString(PyExc_ValueError, "tile(): runs must hold (query start, document start, length) triples");
        goto done;
    }
    nr = count / 3;
    runs = (int64_t *)malloc((size_t)(count > 0 ? count : 1) * sizeof(int64_t));
    if (runs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(runs, view.buf, (size_t)count * sizeof(int64_t));
    for (i = 0; i < nr; i++) {
        const int64_t q0 = runs[3 * i], d0 = runs[3 * i + 1], len = runs[3 * i + 2];
        if (q0 < 0 || d0 < 0 || len < 1 || q0 > (int64_t)nq - len) {
            PyErr_Format(PyExc_ValueError, "tile(): run %zd (%lld, %lld, %lld) does not fit a %zd-token query",
                         i, (long long)q0, (long long)d0, (long long)len, nq);
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    n = tile_impl(runs, nr, nq, k, &out);
    Py_END_ALLOW_THREADS
    if (n < 0) {
        PyErr_NoMemory();
        goto done;
    }
    res = PyBytes_FromStringAndSize(n > 0 ? (const char *)out : NULL, n * 3 * 8);
done:
    free(out);
    free(runs);
    PyBuffer_Release(&view);
    return res;
}

/* ------------------------------------------------------------------------------------------------ */
/* sort_pairs                                                                                        */

/* Postings are (hash: int64, document: uint32) pairs, ordered by hash (signed), then document.  LSD radix
 * over 11-bit digits (2,048 counts fit the L1 cache): the documents' digits first (skipped when they
 * already come in order, as a build's buffer does), then the hash's, each pass stable. */
#define PAIR_DIGIT_BITS 11
#define PAIR_BUCKETS (1 << PAIR_DIGIT_BITS)
#define PAIR_SIGN UINT64_C(0x8000000000000000) /* flipped: unsigned order of the result is signed order */

FP_INLINE uint32_t pair_digit(const uint64_t *h, const uint32_t *d, Py_ssize_t i, int by_doc, int shift)
{
    return by_doc ? (d[i] >> shift) & (PAIR_BUCKETS - 1)
                  : (uint32_t)(((h[i] ^ PAIR_SIGN) >> shift) & (PAIR_BUCKETS - 1));
}

/* One stable pass from (sh, sd) to (dh, dd) by a digit of the document (by_doc) or of the hash.  Returns
 * 0 without moving anything when every pair has the same digit there. */
static int pair_pass(const uint64_t *FP_RESTRICT sh, const uint32_t *FP_RESTRICT sd, uint64_t *FP_RESTRICT dh,
                     uint32_t *FP_RESTRICT dd, Py_ssize_t n, int by_doc, int shift, Py_ssize_t *count)
{
    Py_ssize_t i, sum = 0;
    memset(count, 0, PAIR_BUCKETS * sizeof(Py_ssize_t));
    for (i = 0; i < n; i++)
        count[pair_digit(sh, sd, i, by_doc, shift)]++;
    if (count[pair_digit(sh, sd, 0, by_doc, shift)] == n)
        return 0;
    for (i = 0; i < PAIR_BUCKETS; i++) {
        const Py_ssize_t here = count[i];
        count[i] = sum;
        sum += here;
    }
    for (i = 0; i < n; i++) {
        const Py_ssize_t at = count[pair_digit(sh, sd, i, by_doc, shift)]++;
        dh[at] = sh[i];
        dd[at] = sd[i];
    }
    return 1;
}

FP_INLINE int pair_less(uint64_t h1, uint32_t d1, uint64_t h2, uint32_t d2)
{
    return (int64_t)h1 < (int64_t)h2 || (h1 == h2 && d1 < d2);
}

/* Sorts the n pairs (h[i], d[i]) in place; th and td are scratch of n slots each. */
static void sort_pairs_impl(uint64_t *h, uint32_t *d, Py_ssize_t n, uint64_t *th, uint32_t *td,
                            Py_ssize_t *count)
{
    uint64_t *sh = h, *dh = th, *swap_h;
    uint32_t *sd = d, *dd = td, *swap_d;
    Py_ssize_t i, j;
    int shift, docs_in_order = 1;
    if (n < RADIX_MIN_ITEMS) {
        for (i = 1; i < n; i++) {
            const uint64_t vh = h[i];
            const uint32_t vd = d[i];
            for (j = i; j > 0 && pair_less(vh, vd, h[j - 1], d[j - 1]); j--) {
                h[j] = h[j - 1];
                d[j] = d[j - 1];
            }
            h[j] = vh;
            d[j] = vd;
        }
        return;
    }
    for (i = 1; i < n && docs_in_order; i++)
        docs_in_order = d[i - 1] <= d[i];
    for (shift = 0; !docs_in_order && shift < 32; shift += PAIR_DIGIT_BITS)
        if (pair_pass(sh, sd, dh, dd, n, 1, shift, count)) {
            swap_h = sh, sh = dh, dh = swap_h;
            swap_d = sd, sd = dd, dd = swap_d;
        }
    for (shift = 0; shift < 64; shift += PAIR_DIGIT_BITS)
        if (pair_pass(sh, sd, dh, dd, n, 0, shift, count)) {
            swap_h = sh, sh = dh, dh = swap_h;
            swap_d = sd, sd = dd, dd = swap_d;
        }
    if (sh != h) {
        memcpy(h, sh, (size_t)n * sizeof(uint64_t));
        memcpy(d, sd, (size_t)n * sizeof(uint32_t));
    }
}

static PyObject *fp_sort_pairs(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"hashes", "docs", NULL};
    PyObject *hobj, *dobj, *rh = NULL, *rd = NULL, *res = NULL;
    Py_buffer hv, dv;
    Py_ssize_t n, nd;
    uint64_t *th = NULL;
    uint32_t *td = NULL;
    Py_ssize_t *count = NULL;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:sort_pairs", kwlist, &hobj, &dobj))
        return NULL;
    if (get_int_array(hobj, &hv, 8, "sort_pairs", "hashes", "int64", &n) < 0)
        return NULL;
    if (get_int_array(dobj, &dv, 4, "sort_pairs", "docs", "uint32", &nd) < 0) {
        PyBuffer_Release(&hv);
        return NULL;
    }
    if (n != nd) {
        PyErr_Format(PyExc_ValueError, "sort_pairs(): %zd hashes but %zd docs", n, nd);
        goto done;
    }
    rh = PyBytes_FromStringAndSize(NULL, n * 8);
    rd = PyBytes_FromStringAndSize(NULL, n * 4);
    th = PyMem_RawMalloc((size_t)(n > 0 ? n : 1) * 8);
    td = PyMem_RawMalloc((size_t)(n > 0 ? n : 1) * 4);
    count = PyMem_RawMalloc(PAIR_BUCKETS * sizeof(Py_ssize_t));
    if (rh == NULL || rd == NULL || th == NULL || td == NULL || count == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    {
        uint64_t *h = (uint64_t *)PyBytes_AS_STRING(rh);
        uint32_t *d = (uint32_t *)PyBytes_AS_STRING(rd);
        memcpy(h, hv.buf, (size_t)n * 8);
        memcpy(d, dv.buf, (size_t)n * 4);
        if (n >= NOGIL_MIN_ITEMS) {
            Py_BEGIN_ALLOW_THREADS
            sort_pairs_impl(h, d, n, th, td, count);
            Py_END_ALLOW_THREADS
        }
        else
            sort_pairs_impl(h, d, n, th, td, count);
    }
    res = PyTuple_Pack(2, rh, rd);
done:
    Py_XDECREF(rh);
    Py_XDECREF(rd);
    PyMem_RawFree(th);
    PyMem_RawFree(td);
    PyMem_RawFree(count);
    PyBuffer_Release(&hv);
    PyBuffer_Release(&dv);
    return res;
}

/* ------------------------------------------------------------------------------------------------ */

static PyMethodDef fastfp_methods[] = {
    {"tokenize", (PyCFunction)(void (*)(void))fp_tokenize, METH_VARARGS | METH_KEYWORDS,
     "tokenize(data, syntax) -> (exact, abstract, line_start, line_end)\n\n"
     "Lex data exactly like whence.index.lexer.tokenize with the profile syntax (lexer.Syntax.encode()).\n"
     "Returns four bytes objects holding native\n"
     "uint64, uint64, uint32 and uint32 arrays, one entry per token."},
    {"kgrams", (PyCFunction)(void (*)(void))fp_kgrams, METH_VARARGS | METH_KEYWORDS,
     "kgrams(tokens, k) -> bytes\n\n"
     "uint64 hash of every run of k consecutive tokens (fingerprint.kgrams); empty if len < k."},
    {"winnow", (PyCFunction)(void (*)(void))fp_winnow, METH_VARARGS | METH_KEYWORDS,
     "winnow(hashes, w) -> bytes\n\n"
     "uint32 positions selected by robust winnowing with windows of w (fingerprint.winnow)."},
    {"minhash", (PyCFunction)(void (*)(void))fp_minhash, METH_VARARGS | METH_KEYWORDS,
     "minhash(values, a, b) -> bytes\n\n"
     "uint32 signature: for each permutation p, min over values v of a[p] * fmix32(v & 0xFFFFFFFF) + b[p]\n"
     "(mod 2**32), starting from 0xFFFFFFFF (datasketch's affine32 scheme)."},
    {"index_fingerprint", (PyCFunction)(void (*)(void))fp_index_fingerprint, METH_VARARGS | METH_KEYWORDS,
     "index_fingerprint(data, k, w, a, b, syntax, code_syntax=None, tiny=0, dense=0, salt=0, lines=0,\n"
     "                  shape_salt=0, sparse=0)\n"
     "    -> (hashes, signature, ntokens)\n\n"
     "What ingestion keeps of one file, in one call without the GIL (fingerprint.index_fingerprint): the\n"
     "sorted distinct winnowed k-gram hashes of both views (every k-gram of a text under tiny tokens), and\n"
     "with code_syntax (the code-only profile) those of the text's code alone when it has block comments,\n"
     "and for a text of tiny to dense tokens its other exact k-grams xor salt (their dense keys), for one\n"
     "of dense to lines tokens those of them that begin a line, with shape_salt a tiny-to-dense text's\n"
     "other abstract k-grams xor shape_salt (a dense-to-lines one's that begin a line), with sparse a\n"
     "larger text's line-starting k-grams of both views whose sparse lines hold fewer than k + w - 1\n"
     "tokens and none of that view's winnowed k-grams, as uint64 bytes;\n"
     "the MinHash of the\n"
     "winnowed exact k-grams (uint32 bytes); the token count."},
    {"seed_runs", (PyCFunction)(void (*)(void))fp_seed_runs, METH_VARARGS | METH_KEYWORDS,
     "seed_runs(sorted, order, dk, qt, dt, k, max_repeats, need) -> (hits, runs)\n\n"
     "the alignment's seeding: hits = document k-grams (dk) found in the query's sorted k-grams; when\n"
     "hits >= need, runs holds int64 (query start, document start, length) triples, one per maximal\n"
     "token-exact common run (qt vs dt) seeded by a k-gram at most max_repeats times in the query."},
    {"tile", (PyCFunction)(void (*)(void))fp_tile, METH_VARARGS | METH_KEYWORDS,
     "tile(runs, nq, k) -> bytes\n\n"
     "greedy string tiling (align.tile) of int64 (query start, document start, length) runs of an\n"
     "nq-token query, tiles of at least k tokens: int64 triples of the tiles, by query then document start."},
    {"sort_pairs", (PyCFunction)(void (*)(void))fp_sort_pairs, METH_VARARGS | METH_KEYWORDS,
     "sort_pairs(hashes, docs) -> (hashes, docs)\n\n"
     "postings (int64 hash, uint32 document) sorted by hash, then document (segments.sort_pairs):\n"
     "int64 and uint32 bytes."},
    {"xxh64", (PyCFunction)(void (*)(void))fp_xxh64, METH_VARARGS | METH_KEYWORDS,
     "xxh64(data, seed=0) -> int\n\nThe XXH64 hash used by tokenize."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef fastfp_module = {
    PyModuleDef_HEAD_INIT,
    "whence.index._fastfp",
    "Compiled fingerprint kernel: tokenize, kgrams, winnow and minhash (see index/_fastfp.c).",
    -1,
    fastfp_methods,
    NULL,
    NULL,
    NULL,
    NULL};

PyMODINIT_FUNC PyInit__fastfp(void)
{
    PyObject *m;
    if (init_tables() < 0) {
        PyErr_SetString(PyExc_RuntimeError, "_fastfp: keyword tables do not fit");
        return NULL;
    }
#ifdef FP_HAVE_AVX2_PATH
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
    m = PyModule_Create(&fastfp_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "LEXER_VERSION", FP_LEXER_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "INTERFACE", FP_INTERFACE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#ifdef Py_GIL_DISABLED
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    return m;
}
