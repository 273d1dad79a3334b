/*
 * tollgate_engine._fast: the hot paths of the Python binding as a CPython extension over the
 * same C ABI (include/tollgate.h) and the same loaded libtollgate_ffi the ctypes layer uses.
 *
 * ctypes costs ~10 µs per priced event in argument marshalling; these functions fill the
 * ABI's structs in C and call the library through the addresses of its functions that the
 * ctypes layer hands over at import (so the extension links against no library and always
 * calls the one ctypes loaded): `price` (one event, a few hundred ns) and `price_columns` (whole
 * columns of Python sequences, `array`s or NumPy arrays, millions of events per second) and
 * `allow` (the guard's decision through the fixed-layout `tg_allow`, no JSON either way).
 * Everything else stays on ctypes. The engine/snapshot handle is read from the ctypes
 * `c_void_p` the Python object owns, under the GIL; `close()` zeroes it before freeing.
 * `track_response` books a raw provider response in one crossing with no ctypes marshalling
 * (the SDK wrappers' per-call path).
 *
 * Compiled against the header, so it also reports the header's constants and struct layouts
 * (`HEADER`), which the test suite compares with the ctypes declarations.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tollgate.h"

/* Set once by setup(): the result type, Decimal, the error factory and the enum members. */
static PyObject *PriceOutType;   /* a NamedTuple subclass with 8 fields */
static PyObject *DecimalType;
static PyObject *RaiseStatus;    /* callable(status, message) -> raises the right subclass */
static PyObject *Sources, *Matches, *Reasons; /* tuples indexed by the ABI codes */
static PyObject *Kinds, *Tiers;  /* dict str -> code */

/* The library's functions, as the ctypes layer loaded them (setup() passes their
 * addresses): the extension links against nothing, so it always uses the very library
 * `tollgate_engine._abi.lib` is, wherever that was found. Types from the header. */
static __typeof__(&tg_price_batch) p_price_batch;
static __typeof__(&tg_snapshot_price_batch) p_snapshot_price_batch;
static __typeof__(&tg_decimal_parse) p_decimal_parse;

#define CHUNK 4096

/* Raises the package's exception for `status` (message from `err` when it matches). */
static PyObject *raise_status(int32_t status, const struct tg_error *err, const char *fallback) {
    PyObject *msg;
    if (err != NULL && err->status == status && err->message_len > 0)
        msg = PyUnicode_DecodeUTF8(err->message, err->message_len, "replace");
    else
        msg = PyUnicode_FromString(fallback ? fallback : "");
    if (msg == NULL) return NULL;
    PyObject *r = PyObject_CallFunction(RaiseStatus, "iO", (int)status, msg);
    Py_DECREF(msg);
    Py_XDECREF(r);
    return NULL;
}

static PyObject *raise_msg(int32_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (msg == NULL) return NULL;
    PyObject *r = PyObject_CallFunction(RaiseStatus, "iO", (int)status, msg);
    Py_DECREF(msg);
    Py_XDECREF(r);
    return NULL;
}

/* The handle inside a ctypes c_void_p (NULL when closed). */
static int read_handle(PyObject *cell, void **out) {
    Py_buffer view;
    if (PyObject_GetBuffer(cell, &view, PyBUF_SIMPLE) < 0) return -1;
    if (view.len != (Py_ssize_t)sizeof(void *)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "handle cell must be a ctypes c_void_p");
        return -1;
    }
    memcpy(out, view.buf, sizeof(void *));
    PyBuffer_Release(&view);
    return 0;
}

/* The exact decimal text of a tg_decimal (mantissa of 10^-24 cent), as tg_decimal_format
 * writes it: no exponent, no trailing fractional zeros. */
static Py_ssize_t format_cents(tg_decimal d, char *buf) {
    __int128 m = (__int128)(((unsigned __int128)(uint64_t)d.hi << 64) | d.lo); /* no signed shift */
    unsigned __int128 u = m < 0 ? (unsigned __int128)0 - (unsigned __int128)m : (unsigned __int128)m;
    char digits[48];
    int n = 0;
    /* Two 10^19 splits keep the divisions on 64-bit words after the first. */
    const uint64_t P19 = 10000000000000000000ULL;
    uint64_t lo = (uint64_t)(u % P19);
    unsigned __int128 rest = u / P19;
    uint64_t mid = (uint64_t)(rest % P19);
    uint64_t hi = (uint64_t)(rest / P19);
    for (int i = 0; i < 19; i++) { digits[n++] = (char)('0' + lo % 10); lo /= 10; }
    for (int i = 0; i < 19; i++) { digits[n++] = (char)('0' + mid % 10); mid /= 10; }
    while (hi) { digits[n++] = (char)('0' + hi % 10); hi /= 10; }
    /* digits[] is little-endian; digits[0..24) are the fraction. */
    while (n > TG_CENTS_SCALE + 1 && digits[n - 1] == '0') n--;
    int frac_end = 0;
    while (frac_end < TG_CENTS_SCALE && digits[frac_end] == '0') frac_end++;
    Py_ssize_t k = 0;
    if (m < 0) buf[k++] = '-';
    for (int i = n - 1; i >= TG_CENTS_SCALE; i--) buf[k++] = digits[i];
    if (frac_end < TG_CENTS_SCALE) {
        buf[k++] = '.';
        for (int i = TG_CENTS_SCALE - 1; i >= frac_end; i--) buf[k++] = digits[i];
    }
    if (k == 1 && buf[0] == '-') buf[k++] = '0';
    return k;
}

static PyObject *decimal_from_raw(tg_decimal d) {
    char buf[64];
    Py_ssize_t n = format_cents(d, buf);
    PyObject *s = PyUnicode_FromStringAndSize(buf, n);
    if (s == NULL) return NULL;
    PyObject *r = PyObject_CallOneArg(DecimalType, s);
    Py_DECREF(s);
    return r;
}

/* format_cents(hi, lo) -> str: exposed so the suite can check it against tg_decimal_format. */
static PyObject *fast_format_cents(PyObject *Py_UNUSED(self), PyObject *args) {
    long long hi;
    unsigned long long lo;
    if (!PyArg_ParseTuple(args, "LK", &hi, &lo)) return NULL;
    tg_decimal d;
    d.hi = hi;
    d.lo = lo;
    char buf[64];
    Py_ssize_t n = format_cents(d, buf);
    return PyUnicode_FromStringAndSize(buf, n);
}

/* An exact amount (Decimal, int or str) as a tg_decimal; never rounds. */
static int decimal_to_raw(PyObject *value, const char *field, tg_decimal *out) {
    if (PyFloat_Check(value)) {
        raise_msg(TG_ERR_INVALID_INPUT, "%s: a float is not an exact amount; pass a str, int or Decimal", field);
        return -1;
    }
    PyObject *s = PyObject_Str(value);
    if (s == NULL) return -1;
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(s, &len);
    if (text == NULL) {
        Py_DECREF(s);
        return -1;
    }
    struct tg_error err;
    int32_t status = p_decimal_parse((const uint8_t *)text, (size_t)len, out, &err);
    Py_DECREF(s);
    if (status != TG_OK) {
        if (err.status == status)
            raise_msg(status, "%s: %.*s", field, (int)err.message_len, err.message);
        else
            raise_status(status, NULL, field);
        return -1;
    }
    return 0;
}

/* A code from a name table (kind, service tier); None is the default (0). */
static int code_of(PyObject *table, PyObject *name, int lower, const char *field, uint32_t *out) {
    if (name == NULL || name == Py_None || (PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) == 0)) {
        *out = 0;
        return 0;
    }
    if (!PyUnicode_Check(name)) {
        raise_msg(TG_ERR_INVALID_INPUT, "%s: must be a str, not %s", field, Py_TYPE(name)->tp_name);
        return -1;
    }
    PyObject *key = lower ? PyObject_CallMethod(name, "lower", NULL) : (Py_INCREF(name), name);
    if (key == NULL) return -1;
    PyObject *v = PyDict_GetItemWithError(table, key);
    Py_DECREF(key);
    if (v == NULL) {
        if (!PyErr_Occurred()) raise_msg(TG_ERR_INVALID_INPUT, "unknown %s: %R", field, name);
        return -1;
    }
    *out = (uint32_t)PyLong_AsUnsignedLong(v);
    return 0;
}

static int u64_of(PyObject *v, const char *field, Py_ssize_t row, uint64_t *out) {
    if (!PyLong_Check(v)) {
        if (row < 0)
            raise_msg(TG_ERR_INVALID_INPUT, "%s: must be a non-negative int, not %s", field, Py_TYPE(v)->tp_name);
        else
            raise_msg(TG_ERR_INVALID_INPUT, "%s[%zd]: must be a non-negative int, not %s", field, row, Py_TYPE(v)->tp_name);
        return -1;
    }
    unsigned long long x = PyLong_AsUnsignedLongLong(v);
    if (x == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        if (row < 0)
            raise_msg(TG_ERR_INVALID_INPUT, "%s: must be a non-negative int below 2^64, got %R", field, v);
        else
            raise_msg(TG_ERR_INVALID_INPUT, "%s[%zd]: must be a non-negative int below 2^64, got %R", field, row, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---------------------------------------------------------------- one event */

static const char *const U64_FIELDS[] = {
    "tokens_in", "cached_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "audio_tokens_in", "image_tokens_in", "tokens_out", "reasoning_tokens",
    "audio_tokens_out", "image_tokens_out", "web_search_requests", "tool_calls",
};
#define N_U64 12

static uint64_t *u64_slot(struct tg_price_item *it, int i) {
    uint64_t *base[N_U64] = {
        &it->tokens_in, &it->cached_tokens, &it->cache_write_5m_tokens, &it->cache_write_1h_tokens,
        &it->audio_tokens_in, &it->image_tokens_in, &it->tokens_out, &it->reasoning_tokens,
        &it->audio_tokens_out, &it->image_tokens_out, &it->web_search_requests, &it->tool_calls,
    };
    return base[i];
}

/* Appends a name to a small arena; returns its span. */
static int name_span(PyObject *name, const char *field, char *arena, size_t cap, size_t *used, struct tg_span *out) {
    out->offset = 0;
    out->len = 0;
    if (name == NULL || name == Py_None) return 0;
    if (!PyUnicode_Check(name)) {
        raise_msg(TG_ERR_INVALID_INPUT, "%s: must be a str, not %s", field, Py_TYPE(name)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(name, &len);
    if (s == NULL) return -1;
    if ((size_t)len > cap - *used) {
        raise_msg(TG_ERR_LIMIT, "%s: %zd bytes is too long", field, len);
        return -1;
    }
    memcpy(arena + *used, s, (size_t)len);
    out->offset = (uint32_t)*used;
    out->len = (uint32_t)len;
    *used += (size_t)len;
    return 0;
}

static PyObject *make_price_out(const struct tg_price_out *o) {
    PyObject *cost = decimal_from_raw(o->cost_cents);
    if (cost == NULL) return NULL;
    PyObject *error = Py_None;
    Py_INCREF(error);
    if (o->status != TG_OK) {
        Py_DECREF(error);
        error = PyObject_CallFunction(RaiseStatus, "isO", (int)o->status, "", Py_False);
        if (error == NULL) {
            Py_DECREF(cost);
            return NULL;
        }
    }
    PyObject *source = o->source < (uint32_t)PyTuple_GET_SIZE(Sources) ? PyTuple_GET_ITEM(Sources, o->source) : Py_None;
    PyObject *match = o->match_kind < (uint32_t)PyTuple_GET_SIZE(Matches) ? PyTuple_GET_ITEM(Matches, o->match_kind) : Py_None;
    PyObject *reason = o->reason < (uint32_t)PyTuple_GET_SIZE(Reasons) ? PyTuple_GET_ITEM(Reasons, o->reason) : Py_None;
    char hex[17];
    for (int i = 0; i < 16; i++) hex[i] = "0123456789abcdef"[(o->snapshot_id >> (60 - 4 * i)) & 15];
    PyObject *snap = PyUnicode_FromStringAndSize(hex, 16);
    PyObject *warnings = PyLong_FromUnsignedLong(o->warning_count);
    PyTypeObject *tp = (PyTypeObject *)PriceOutType;
    PyObject *r = snap && warnings ? tp->tp_alloc(tp, 8) : NULL;
    if (r == NULL) {
        Py_DECREF(cost);
        Py_DECREF(error);
        Py_XDECREF(snap);
        Py_XDECREF(warnings);
        return NULL;
    }
    PyObject *priced = o->priced ? Py_True : Py_False;
    Py_INCREF(priced);
    Py_INCREF(source);
    Py_INCREF(match);
    Py_INCREF(reason);
    PyTuple_SET_ITEM(r, 0, cost);
    PyTuple_SET_ITEM(r, 1, priced);
    PyTuple_SET_ITEM(r, 2, source);
    PyTuple_SET_ITEM(r, 3, match);
    PyTuple_SET_ITEM(r, 4, reason);
    PyTuple_SET_ITEM(r, 5, snap);
    PyTuple_SET_ITEM(r, 6, warnings);
    PyTuple_SET_ITEM(r, 7, error);
    return r;
}

typedef int32_t (*batch_fn)(const void *, const struct tg_price_item *, size_t, const uint8_t *, size_t,
                            struct tg_price_out *, struct tg_error *);

static int32_t engine_batch(const void *h, const struct tg_price_item *items, size_t n, const uint8_t *names,
                            size_t names_len, struct tg_price_out *out, struct tg_error *err) {
    return p_price_batch((const struct tg_engine *)h, items, n, names, names_len, out, err);
}

static int32_t snapshot_batch(const void *h, const struct tg_price_item *items, size_t n, const uint8_t *names,
                              size_t names_len, struct tg_price_out *out, struct tg_error *err) {
    return p_snapshot_price_batch((const struct tg_snapshot *)h, items, n, names, names_len, out, err);
}

/* Keyword names of price(), interned at import; matched by pointer first. */
static const char *const PRICE_KW[] = {
    "tokens_in", "cached_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "audio_tokens_in", "image_tokens_in", "tokens_out", "reasoning_tokens",
    "audio_tokens_out", "image_tokens_out", "web_search_requests", "tool_calls",
    "service_tier", "inference_geo", "speed", "kind", "timestamp_ms",
    "provider_cost_cents", "external_cost_cents",
};
#define N_PRICE_KW 19
static PyObject *price_kw[N_PRICE_KW];

static int kw_index(PyObject *name) {
    for (int i = 0; i < N_PRICE_KW; i++)
        if (name == price_kw[i]) return i;
    for (int i = 0; i < N_PRICE_KW; i++)
        if (PyUnicode_Compare(name, price_kw[i]) == 0) return i;
    return -1;
}

/* price(provider, model, *, tokens_in=0, …) -> PriceOut on the handle in `cell`. */
static PyObject *price_impl(int which, PyObject *cell, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "price() takes provider and model, then keyword fields (%zd positional given)",
                     nargs);
        return NULL;
    }
    PyObject *provider = args[0], *model = args[1];
    PyObject *v[N_PRICE_KW] = {0};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        int k = kw_index(name);
        if (k < 0) {
            PyErr_Format(PyExc_TypeError, "price() got an unexpected keyword argument '%U'", name);
            return NULL;
        }
        v[k] = args[nargs + i];
    }
    if (p_price_batch == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tollgate_engine._fast: setup() was not called");
        return NULL;
    }
    void *h;
    if (read_handle(cell, &h) < 0) return NULL;
    if (h == NULL) return raise_msg(TG_ERR_INVALID_HANDLE, which ? "snapshot is unpinned" : "engine is closed");
    struct tg_price_item it;
    memset(&it, 0, sizeof it);
    for (int i = 0; i < N_U64; i++)
        if (v[i] != NULL && v[i] != Py_None && u64_of(v[i], U64_FIELDS[i], -1, u64_slot(&it, i)) < 0) return NULL;
    PyObject *tier = v[12], *geo = v[13], *speed = v[14], *kind = v[15], *ts = v[16], *pcost = v[17], *ecost = v[18];
    it.timestamp_ms = TG_TIMESTAMP_NONE;
    if (ts != NULL && ts != Py_None) {
        long long t = PyLong_AsLongLong(ts);
        if (t == -1 && PyErr_Occurred()) return NULL;
        it.timestamp_ms = t;
    }
    char arena[1024];
    size_t used = 0;
    if (name_span(provider, "provider", arena, sizeof arena, &used, &it.provider) < 0 ||
        name_span(model, "model", arena, sizeof arena, &used, &it.model) < 0 ||
        name_span(geo, "inference_geo", arena, sizeof arena, &used, &it.inference_geo) < 0 ||
        name_span(speed, "speed", arena, sizeof arena, &used, &it.speed) < 0)
        return NULL;
    if (code_of(Kinds, kind, 0, "kind", &it.kind) < 0 || code_of(Tiers, tier, 1, "service tier", &it.service_tier) < 0)
        return NULL;
    if (pcost != NULL && pcost != Py_None) {
        if (decimal_to_raw(pcost, "provider_cost_cents", &it.provider_cost_cents) < 0) return NULL;
        it.flags |= TG_ITEM_HAS_PROVIDER_COST;
    }
    if (ecost != NULL && ecost != Py_None) {
        if (decimal_to_raw(ecost, "external_cost_cents", &it.external_cost_cents) < 0) return NULL;
        it.flags |= TG_ITEM_HAS_EXTERNAL_COST;
    }
    struct tg_price_out out;
    struct tg_error err;
    /* The GIL stays held: close() cannot free the handle during this short call. */
    int32_t status = (which ? snapshot_batch : engine_batch)(h, &it, 1, (const uint8_t *)arena, used, &out, &err);
    if (status != TG_OK) return raise_status(status, &err, NULL);
    if (out.status != TG_OK) return raise_status(out.status, NULL, NULL);
    return make_price_out(&out);
}

/* price(which, cell, provider, model, **fields): the module-level form. */
static PyObject *fast_price(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    if (nargs < 2) {
        PyErr_SetString(PyExc_TypeError, "price(which, cell, provider, model, **fields)");
        return NULL;
    }
    return price_impl(PyObject_IsTrue(args[0]), args[1], args + 2, nargs - 2, kwnames);
}

/* Engine.price / Snapshot.price: PriceMethod(which, fallback) is a descriptor on the class;
 * `engine.price` binds it like a method (a BoundPrice holding the engine and its handle cell),
 * and calling that goes straight here with vectorcall, no Python frame in between. */
typedef struct {
    PyObject_HEAD
    int which;
    PyObject *owner; /* the Engine / Snapshot, kept alive like a bound method's self */
    PyObject *cell;  /* its ctypes c_void_p */
    vectorcallfunc vectorcall;
} BoundPrice;

static PyObject *bound_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    BoundPrice *p = (BoundPrice *)self;
    return price_impl(p->which, p->cell, args, PyVectorcall_NARGS(nargsf), kwnames);
}

static void bound_dealloc(PyObject *self) {
    Py_XDECREF(((BoundPrice *)self)->owner);
    Py_XDECREF(((BoundPrice *)self)->cell);
    Py_TYPE(self)->tp_free(self);
}

static PyTypeObject BoundPriceType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tollgate_engine._fast.BoundPrice",
    .tp_basicsize = sizeof(BoundPrice),
    .tp_dealloc = bound_dealloc,
    .tp_vectorcall_offset = offsetof(BoundPrice, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "price(provider, model, **fields) -> PriceOut, bound to one engine or snapshot",
};

typedef struct {
    PyObject_HEAD
    int which;
    PyObject *fallback; /* the Python method: its docstring, and for class-level access */
} PriceMethod;

static PyObject *method_new(PyTypeObject *type, PyObject *args, PyObject *Py_UNUSED(kwargs)) {
    int which;
    PyObject *fallback;
    if (!PyArg_ParseTuple(args, "iO", &which, &fallback)) return NULL;
    PriceMethod *m = (PriceMethod *)type->tp_alloc(type, 0);
    if (m == NULL) return NULL;
    m->which = which;
    Py_INCREF(fallback);
    m->fallback = fallback;
    return (PyObject *)m;
}

static void method_dealloc(PyObject *self) {
    Py_XDECREF(((PriceMethod *)self)->fallback);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *cell_name;

static PyObject *method_get(PyObject *self, PyObject *obj, PyObject *Py_UNUSED(type)) {
    PriceMethod *m = (PriceMethod *)self;
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(m->fallback);
        return m->fallback;
    }
    PyObject *cell = PyObject_GetAttr(obj, cell_name);
    if (cell == NULL) return NULL;
    BoundPrice *b = PyObject_New(BoundPrice, &BoundPriceType);
    if (b == NULL) {
        Py_DECREF(cell);
        return NULL;
    }
    b->which = m->which;
    Py_INCREF(obj);
    b->owner = obj;
    b->cell = cell;
    b->vectorcall = bound_vectorcall;
    return (PyObject *)b;
}

static PyObject *method_doc(PyObject *self, void *Py_UNUSED(closure)) {
    return PyObject_GetAttrString(((PriceMethod *)self)->fallback, "__doc__");
}

static PyGetSetDef method_getset[] = {
    {"__doc__", method_doc, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PriceMethodType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tollgate_engine._fast.PriceMethod",
    .tp_basicsize = sizeof(PriceMethod),
    .tp_dealloc = method_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_descr_get = method_get,
    .tp_getset = method_getset,
    .tp_new = method_new,
};

/* ---------------------------------------------------------------- columns */

/* One integer column: None (zeros), an int (every row), a buffer of integers, or a sequence. */
typedef struct {
    const char *name;
    int kind; /* 0 none, 1 scalar, 2 buffer, 3 sequence */
    uint64_t scalar;
    Py_buffer view;
    char fmt;
    PyObject *seq; /* a tuple copy of a sequence column */
} column;

static int column_open(column *c, const char *name, PyObject *obj, Py_ssize_t n) {
    memset(c, 0, sizeof *c);
    c->name = name;
    if (obj == NULL || obj == Py_None) return 0;
    if (PyLong_Check(obj)) {
        c->kind = 1;
        return u64_of(obj, name, -1, &c->scalar);
    }
    if (PyObject_CheckBuffer(obj)) {
        if (PyObject_GetBuffer(obj, &c->view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return -1;
        c->kind = 2;
        const char *f = c->view.format ? c->view.format : "B";
        if (*f == '<' || *f == '=' || *f == '@') f++;
        c->fmt = *f;
        Py_ssize_t w = c->view.itemsize;
        int ok = c->fmt != 0 && f[1] == 0 && strchr("bBhHiIlLqQ", c->fmt) != NULL && c->view.ndim <= 1 &&
                 (w == 1 || w == 2 || w == 4 || w == 8);
        if (!ok) {
            raise_msg(TG_ERR_INVALID_INPUT, "%s: buffer of format %s is not a column of integers", name, c->view.format);
            return -1;
        }
        if (c->view.len / c->view.itemsize != n) {
            raise_msg(TG_ERR_INVALID_INPUT, "%s: %zd values for %zd rows", name, c->view.len / c->view.itemsize, n);
            return -1;
        }
        return 0;
    }
    /* A tuple copy: nothing can resize it while the rows are read. */
    c->seq = PySequence_Tuple(obj);
    if (c->seq == NULL) return -1;
    c->kind = 3;
    if (PyTuple_GET_SIZE(c->seq) != n) {
        raise_msg(TG_ERR_INVALID_INPUT, "%s: %zd values for %zd rows", name, PyTuple_GET_SIZE(c->seq), n);
        return -1;
    }
    return 0;
}

static void column_close(column *c) {
    if (c->kind == 2) PyBuffer_Release(&c->view);
    Py_XDECREF(c->seq);
    c->kind = 0;
    c->seq = NULL;
}

static int column_get(column *c, Py_ssize_t i, uint64_t *out) {
    switch (c->kind) {
    case 0: *out = 0; return 0;
    case 1: *out = c->scalar; return 0;
    case 3: return u64_of(PyTuple_GET_ITEM(c->seq, i), c->name, i, out);
    default: break;
    }
    /* By item size and signedness (the format letter's native size may differ from the
     * standard size a '<'/'=' prefix means); memcpy for unaligned buffers. */
    const char *p = (const char *)c->view.buf + i * c->view.itemsize;
    int is_signed = c->fmt >= 'a' && c->fmt <= 'z';
    long long s;
    switch (c->view.itemsize) {
    case 1: { uint8_t v; memcpy(&v, p, 1); s = is_signed ? (long long)(int8_t)v : (long long)v; break; }
    case 2: { uint16_t v; memcpy(&v, p, 2); s = is_signed ? (long long)(int16_t)v : (long long)v; break; }
    case 4: { uint32_t v; memcpy(&v, p, 4); s = is_signed ? (long long)(int32_t)v : (long long)v; break; }
    default: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (!is_signed) {
            *out = v;
            return 0;
        }
        s = (long long)(int64_t)v;
        break;
    }
    }
    if (s < 0) {
        raise_msg(TG_ERR_INVALID_INPUT, "%s[%zd]: must not be negative, got %lld", c->name, i, s);
        return -1;
    }
    *out = (uint64_t)s;
    return 0;
}

/* Names column: one str for every row, None, or a sequence of str/None; distinct names are
 * stored once in the arena. */
typedef struct {
    const char *name;
    PyObject *seq;        /* a tuple copy, or NULL when constant */
    struct tg_span constant;
} names_column;

typedef struct {
    char *buf;
    size_t len, cap;
    PyObject *seen; /* dict str -> (offset << 32 | len) */
} arena_t;

static int arena_span(arena_t *a, PyObject *name, const char *field, Py_ssize_t row, struct tg_span *out) {
    out->offset = 0;
    out->len = 0;
    if (name == Py_None) return 0;
    PyObject *hit = PyDict_GetItemWithError(a->seen, name);
    if (hit != NULL) {
        unsigned long long v = PyLong_AsUnsignedLongLong(hit);
        out->offset = (uint32_t)(v >> 32);
        out->len = (uint32_t)v;
        return 0;
    }
    if (PyErr_Occurred()) return -1;
    if (!PyUnicode_Check(name)) {
        raise_msg(TG_ERR_INVALID_INPUT, "%s[%zd]: must be a str or None, not %s", field, row, Py_TYPE(name)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(name, &len);
    if (s == NULL) return -1;
    if (a->len + (size_t)len > TG_MAX_NAMES_BYTES) {
        raise_msg(TG_ERR_LIMIT, "%s: distinct names exceed %d bytes", field, TG_MAX_NAMES_BYTES);
        return -1;
    }
    if (a->len + (size_t)len > a->cap) {
        size_t cap = a->cap * 2 + (size_t)len + 256;
        char *b = PyMem_Realloc(a->buf, cap);
        if (b == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        a->buf = b;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, s, (size_t)len);
    out->offset = (uint32_t)a->len;
    out->len = (uint32_t)len;
    a->len += (size_t)len;
    PyObject *v = PyLong_FromUnsignedLongLong(((unsigned long long)out->offset << 32) | out->len);
    if (v == NULL) return -1;
    int rc = PyDict_SetItem(a->seen, name, v);
    Py_DECREF(v);
    return rc;
}

static int names_open(names_column *c, const char *name, PyObject *obj, Py_ssize_t n, arena_t *a) {
    memset(c, 0, sizeof *c);
    c->name = name;
    if (obj == NULL || obj == Py_None) return 0;
    if (PyUnicode_Check(obj)) return arena_span(a, obj, name, 0, &c->constant);
    c->seq = PySequence_Tuple(obj);
    if (c->seq == NULL) return -1;
    if (PyTuple_GET_SIZE(c->seq) != n) {
        raise_msg(TG_ERR_INVALID_INPUT, "%s: %zd values for %zd rows", name, PyTuple_GET_SIZE(c->seq), n);
        return -1;
    }
    return 0;
}

static int names_get(names_column *c, Py_ssize_t i, arena_t *a, struct tg_span *out) {
    if (c->seq == NULL) {
        *out = c->constant;
        return 0;
    }
    return arena_span(a, PyTuple_GET_ITEM(c->seq, i), c->name, i, out);
}

static const char *const COLUMNS_KW[] = {
    "", "", "", /* which, cell, model */
    "provider", "tokens_in", "cached_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "audio_tokens_in", "image_tokens_in", "tokens_out", "reasoning_tokens", "audio_tokens_out",
    "image_tokens_out", "web_search_requests", "tool_calls", "service_tier", "timestamp_ms", NULL,
};

/*
 * price_columns(which, cell, model, *, provider=None, tokens_in=None, …, service_tier=None,
 *               timestamp_ms=None)
 *   -> (n, costs: bytes (16 per row, tg_decimal), status: bytes (int32 per row),
 *       priced: bytes (1 per row), source: bytes, match: bytes,
 *       total: (sum_hi >> 64, sum_hi low 64 bits, sum_lo >> 64, sum_lo low 64 bits),
 *       priced_count, failed_count)
 * The GIL is released while the library prices each chunk; the caller keeps the handle alive.
 */
static PyObject *fast_price_columns(PyObject *Py_UNUSED(self), PyObject *args, PyObject *kwargs) {
    int which;
    PyObject *cell, *model, *provider = NULL, *tier = NULL, *ts = NULL;
    PyObject *u[N_U64] = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iOO|$OOOOOOOOOOOOOOO", (char **)COLUMNS_KW, &which, &cell, &model,
                                     &provider, &u[0], &u[1], &u[2], &u[3], &u[4], &u[5], &u[6], &u[7], &u[8],
                                     &u[9], &u[10], &u[11], &tier, &ts))
        return NULL;
    if (p_price_batch == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tollgate_engine._fast: setup() was not called");
        return NULL;
    }
    void *h;
    if (read_handle(cell, &h) < 0) return NULL;
    if (h == NULL) return raise_msg(TG_ERR_INVALID_HANDLE, which ? "snapshot is unpinned" : "engine is closed");
    if (PyUnicode_Check(model) || model == Py_None)
        return raise_msg(TG_ERR_INVALID_INPUT, "model: must be a column (a sequence of str)");
    Py_ssize_t n = PyObject_Length(model);
    if (n < 0) return NULL;

    uint32_t tier_code = 0;
    if (code_of(Tiers, tier, 1, "service tier", &tier_code) < 0) return NULL;
    int64_t ts_value = TG_TIMESTAMP_NONE;
    column ts_col;
    memset(&ts_col, 0, sizeof ts_col);

    PyObject *result = NULL, *costs = NULL, *status_b = NULL, *priced_b = NULL, *source_b = NULL, *match_b = NULL;
    column cols[N_U64];
    int opened = 0;
    names_column mc, pc;
    memset(&mc, 0, sizeof mc);
    memset(&pc, 0, sizeof pc);
    arena_t arena = {NULL, 0, 0, PyDict_New()};
    struct tg_price_item *items = NULL;
    struct tg_price_out *outs = NULL;
    if (arena.seen == NULL) goto done;
    if (ts != NULL && ts != Py_None) {
        if (PyLong_Check(ts)) {
            ts_value = PyLong_AsLongLong(ts);
            if (ts_value == -1 && PyErr_Occurred()) goto done;
        } else if (column_open(&ts_col, "timestamp_ms", ts, n) < 0) {
            goto done;
        }
    }
    for (; opened < N_U64; opened++)
        if (column_open(&cols[opened], U64_FIELDS[opened], u[opened], n) < 0) {
            opened++;
            goto done;
        }
    if (names_open(&mc, "model", model, n, &arena) < 0 || names_open(&pc, "provider", provider, n, &arena) < 0)
        goto done;

    costs = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(tg_decimal));
    status_b = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int32_t));
    priced_b = PyBytes_FromStringAndSize(NULL, n);
    source_b = PyBytes_FromStringAndSize(NULL, n);
    match_b = PyBytes_FromStringAndSize(NULL, n);
    items = PyMem_Malloc(sizeof *items * CHUNK);
    outs = PyMem_Malloc(sizeof *outs * CHUNK);
    if (!costs || !status_b || !priced_b || !source_b || !match_b || !items || !outs) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    tg_decimal *cost_out = (tg_decimal *)PyBytes_AS_STRING(costs);
    int32_t *status_out = (int32_t *)PyBytes_AS_STRING(status_b);
    char *priced_out = PyBytes_AS_STRING(priced_b), *source_out = PyBytes_AS_STRING(source_b),
         *match_out = PyBytes_AS_STRING(match_b);
    /* The exact total, wider than one amount: the sums of the high and low 64-bit halves
     * of the mantissas (neither can overflow below 2^62 rows). */
    __int128 sum_hi = 0;
    unsigned __int128 sum_lo = 0;
    Py_ssize_t priced_count = 0, failed = 0;
    for (Py_ssize_t start = 0; start < n; start += CHUNK) {
        Py_ssize_t m = n - start < CHUNK ? n - start : CHUNK;
        memset(items, 0, sizeof *items * (size_t)m);
        for (Py_ssize_t j = 0; j < m; j++) {
            struct tg_price_item *it = &items[j];
            Py_ssize_t row = start + j;
            for (int k = 0; k < N_U64; k++)
                if (cols[k].kind != 0 && column_get(&cols[k], row, u64_slot(it, k)) < 0) goto done;
            if (names_get(&mc, row, &arena, &it->model) < 0 || names_get(&pc, row, &arena, &it->provider) < 0)
                goto done;
            if (ts_col.kind != 0) {
                PyObject *v = ts_col.kind == 3 ? PyTuple_GET_ITEM(ts_col.seq, row) : NULL;
                if (v != NULL) {
                    if (v == Py_None) {
                        it->timestamp_ms = TG_TIMESTAMP_NONE;
                    } else {
                        it->timestamp_ms = PyLong_AsLongLong(v);
                        if (it->timestamp_ms == -1 && PyErr_Occurred()) goto done;
                    }
                } else {
                    uint64_t t;
                    if (column_get(&ts_col, row, &t) < 0) goto done;
                    it->timestamp_ms = (int64_t)t;
                }
            } else {
                it->timestamp_ms = ts_value;
            }
            it->service_tier = tier_code;
        }
        struct tg_error err;
        int32_t st;
        const uint8_t *names = (const uint8_t *)arena.buf;
        size_t names_len = arena.len;
        batch_fn fn = which ? snapshot_batch : engine_batch;
        Py_BEGIN_ALLOW_THREADS
        st = fn(h, items, (size_t)m, names, names_len, outs, &err);
        Py_END_ALLOW_THREADS
        if (st != TG_OK) {
            raise_status(st, &err, NULL);
            goto done;
        }
        for (Py_ssize_t j = 0; j < m; j++) {
            const struct tg_price_out *o = &outs[j];
            Py_ssize_t row = start + j;
            cost_out[row] = o->cost_cents;
            status_out[row] = o->status;
            priced_out[row] = (char)(o->priced != 0);
            source_out[row] = (char)o->source;
            match_out[row] = (char)o->match_kind;
            if (o->status != TG_OK) {
                failed++;
                continue;
            }
            priced_count += o->priced != 0;
            sum_hi += o->cost_cents.hi;
            sum_lo += o->cost_cents.lo;
        }
    }
    PyObject *total_obj = Py_BuildValue("(LKKK)", (long long)(sum_hi >> 64), (unsigned long long)sum_hi,
                                        (unsigned long long)(sum_lo >> 64), (unsigned long long)sum_lo);
    if (total_obj == NULL) goto done;
    result = Py_BuildValue("nOOOOONnn", n, costs, status_b, priced_b, source_b, match_b, total_obj, priced_count, failed);

done:
    for (int k = 0; k < opened; k++) column_close(&cols[k]);
    column_close(&ts_col);
    Py_XDECREF(mc.seq);
    Py_XDECREF(pc.seq);
    Py_XDECREF(arena.seen);
    PyMem_Free(arena.buf);
    PyMem_Free(items);
    PyMem_Free(outs);
    Py_XDECREF(costs);
    Py_XDECREF(status_b);
    Py_XDECREF(priced_b);
    Py_XDECREF(source_b);
    Py_XDECREF(match_b);
    return result;
}

/* Attribute names of PriceItem, interned at import (the 12 counts, then the rest). */
static const char *const ITEM_ATTRS[] = {
    "tokens_in", "cached_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "audio_tokens_in", "image_tokens_in", "tokens_out", "reasoning_tokens",
    "audio_tokens_out", "image_tokens_out", "web_search_requests", "tool_calls",
    "provider", "model", "inference_geo", "speed", "service_tier", "kind", "timestamp_ms",
    "provider_cost_cents", "external_cost_cents",
};
#define N_ITEM_ATTRS 21
static PyObject *item_attr[N_ITEM_ATTRS];

/* Fills one tg_price_item from a PriceItem's attributes, as the ctypes path does. */
static int fill_from_item(PyObject *obj, arena_t *arena, Py_ssize_t row, struct tg_price_item *it) {
    PyObject *v[N_ITEM_ATTRS];
    int rc = -1;
    for (int i = 0; i < N_ITEM_ATTRS; i++) v[i] = NULL;
    for (int i = 0; i < N_ITEM_ATTRS; i++)
        if ((v[i] = PyObject_GetAttr(obj, item_attr[i])) == NULL) goto out;
    for (int i = 0; i < N_U64; i++)
        if (v[i] != Py_None && u64_of(v[i], U64_FIELDS[i], -1, u64_slot(it, i)) < 0) goto out;
    const char *names[4] = {"provider", "model", "inference_geo", "speed"};
    struct tg_span *spans[4] = {&it->provider, &it->model, &it->inference_geo, &it->speed};
    for (int i = 0; i < 4; i++) {
        PyObject *name = v[12 + i];
        if (name != Py_None && !PyUnicode_Check(name)) {
            raise_msg(TG_ERR_INVALID_INPUT, "items[%zd].%s: must be a str or None, not %s", row, names[i],
                      Py_TYPE(name)->tp_name);
            goto out;
        }
        if (arena_span(arena, name, names[i], row, spans[i]) < 0) goto out;
    }
    if (code_of(Tiers, v[16], 1, "service tier", &it->service_tier) < 0 || code_of(Kinds, v[17], 0, "kind", &it->kind) < 0)
        goto out;
    it->timestamp_ms = TG_TIMESTAMP_NONE;
    if (v[18] != Py_None) {
        it->timestamp_ms = PyLong_AsLongLong(v[18]);
        if (it->timestamp_ms == -1 && PyErr_Occurred()) goto out;
    }
    if (v[19] != Py_None) {
        if (decimal_to_raw(v[19], "provider_cost_cents", &it->provider_cost_cents) < 0) goto out;
        it->flags |= TG_ITEM_HAS_PROVIDER_COST;
    }
    if (v[20] != Py_None) {
        if (decimal_to_raw(v[20], "external_cost_cents", &it->external_cost_cents) < 0) goto out;
        it->flags |= TG_ITEM_HAS_EXTERNAL_COST;
    }
    rc = 0;
out:
    for (int i = 0; i < N_ITEM_ATTRS; i++) Py_XDECREF(v[i]);
    return rc;
}

/* price_items(which, cell, items) -> list[PriceOut]: Engine.price_batch without ctypes
 * marshalling. At most TG_MAX_BATCH_ITEMS items (the caller checks); the GIL is released
 * while the library prices; the caller keeps the handle alive. */
static PyObject *fast_price_items(PyObject *Py_UNUSED(self), PyObject *args) {
    int which;
    PyObject *cell, *items_obj;
    if (!PyArg_ParseTuple(args, "iOO", &which, &cell, &items_obj)) return NULL;
    if (p_price_batch == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tollgate_engine._fast: setup() was not called");
        return NULL;
    }
    void *h;
    if (read_handle(cell, &h) < 0) return NULL;
    if (h == NULL) return raise_msg(TG_ERR_INVALID_HANDLE, which ? "snapshot is unpinned" : "engine is closed");
    PyObject *seq = PySequence_Tuple(items_obj);
    if (seq == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    PyObject *result = NULL;
    arena_t arena = {NULL, 0, 0, PyDict_New()};
    struct tg_price_item *items = n ? PyMem_Calloc((size_t)n, sizeof *items) : NULL;
    struct tg_price_out *outs = n ? PyMem_Malloc(sizeof *outs * (size_t)n) : NULL;
    if (arena.seen == NULL || (n && (items == NULL || outs == NULL))) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (fill_from_item(PyTuple_GET_ITEM(seq, i), &arena, i, &items[i]) < 0) goto done;
    if (n) {
        struct tg_error err;
        int32_t st;
        const uint8_t *names = (const uint8_t *)arena.buf;
        size_t names_len = arena.len;
        batch_fn fn = which ? snapshot_batch : engine_batch;
        Py_BEGIN_ALLOW_THREADS
        st = fn(h, items, (size_t)n, names, names_len, outs, &err);
        Py_END_ALLOW_THREADS
        if (st != TG_OK) {
            raise_status(st, &err, NULL);
            goto done;
        }
    }
    result = PyList_New(n);
    for (Py_ssize_t i = 0; result != NULL && i < n; i++) {
        PyObject *o = make_price_out(&outs[i]);
        if (o == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, i, o);
    }
done:
    Py_DECREF(seq);
    Py_XDECREF(arena.seen);
    PyMem_Free(arena.buf);
    PyMem_Free(items);
    PyMem_Free(outs);
    return result;
}

/* Py_NewRef before Python 3.10. */
static PyObject *new_ref(PyObject *o) {
    Py_INCREF(o);
    return o;
}

/* ---------------------------------------------------------------- guard: allow */

/* Set by setup_guard(): the Decision class (tollgate_engine.guard), the names of the verdict
 * and reason codes, the exact margin for a percentage beyond int64 hundredths, tg_allow. */
static PyObject *DecisionType;
static PyObject *Verdicts, *GuardReasons; /* tuples of str indexed by TG_VERDICT_* / TG_GUARD_* */
static PyObject *MarginExact;             /* callable(cost, revenue) -> Decimal */
static __typeof__(&tg_allow) p_allow;

/* The usage keys the fixed-layout request carries (event field names), in tg_allow_request
 * order; any other key takes the JSON path. */
static const char *const USAGE_KEYS[] = {
    "tokensIn", "cachedTokens", "cacheWrite5mTokens", "cacheWrite1hTokens", "tokensOut", "reasoningTokens",
};
#define N_USAGE_KEYS 6
static PyObject *usage_key[N_USAGE_KEYS];

/* Decision's slots, in the order allow_impl fills them. */
static const char *const DECISION_SLOTS[] = {
    "decision", "reason", "flagged", "policy_id", "period", "suggested_model", "cost_cents",
    "revenue_cents", "margin_pct", "remaining_budget_cents", "estimate_cents", "reservation_id", "_json",
};
#define N_DECISION_SLOTS 13
static PyObject *decision_slot[N_DECISION_SLOTS];

/* The largest count an event may carry (2^53); a larger one takes the JSON path (its error). */
#define MAX_USAGE_COUNT (1ULL << 53)

/* A text argument: None (absent) or a non-empty str (its UTF-8). 1 = taken, 0 = not for the
 * fast path (another type, empty, or not encodable: the JSON path reports it). */
static int text_arg(PyObject *v, const uint8_t **ptr, size_t *len) {
    *ptr = NULL;
    *len = 0;
    if (v == Py_None) return 1;
    if (!PyUnicode_CheckExact(v) || PyUnicode_GET_LENGTH(v) == 0) return 0;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(v, &n);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    *ptr = (const uint8_t *)s;
    *len = (size_t)n;
    return 1;
}

/* The usage mapping as token counts: 1 = taken, 0 = not for the fast path. */
static int usage_arg(PyObject *usage, struct tg_allow_request *r) {
    if (!PyDict_CheckExact(usage)) return 0;
    uint64_t *slots[N_USAGE_KEYS] = {
        &r->tokens_in, &r->cached_tokens, &r->cache_write_5m_tokens, &r->cache_write_1h_tokens,
        &r->tokens_out, &r->reasoning_tokens,
    };
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(usage, &pos, &key, &value)) {
        int k = -1;
        for (int i = 0; i < N_USAGE_KEYS && k < 0; i++)
            if (key == usage_key[i]) k = i;
        for (int i = 0; i < N_USAGE_KEYS && k < 0; i++)
            if (PyUnicode_CheckExact(key) && PyUnicode_Compare(key, usage_key[i]) == 0) k = i;
        if (k < 0 || !PyLong_CheckExact(value)) return 0;
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || x < 0 || (unsigned long long)x > MAX_USAGE_COUNT) return 0;
        *slots[k] = (uint64_t)x;
    }
    return 1;
}

/* An estimate in cents (int, str or Decimal): 1 = taken, 0 = not for the fast path (another
 * type, or text the library does not accept: the JSON path raises the TypeError or the
 * error naming estimateCents), -1 = a Python error. */
static int estimate_arg(PyObject *v, tg_decimal *out) {
    if (!(PyLong_CheckExact(v) || PyUnicode_CheckExact(v) || Py_IS_TYPE(v, (PyTypeObject *)DecimalType))) return 0;
    PyObject *s = PyObject_Str(v);
    if (s == NULL) return -1;
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(s, &len);
    int rc = 0;
    if (text == NULL) {
        PyErr_Clear();
    } else {
        struct tg_error err;
        rc = p_decimal_parse((const uint8_t *)text, (size_t)len, out, &err) == TG_OK;
    }
    Py_DECREF(s);
    return rc;
}

static PyObject *text_or_none(const uint8_t *s, uint32_t len) {
    if (len == 0) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)len, "strict");
}

/* The decision's margin as the JSON path shows it ("20.00" → Decimal). */
static PyObject *margin_of(const struct tg_decision *d, PyObject *cost, PyObject *revenue) {
    int64_t h = d->margin_pct_hundredths;
    if (h == TG_MARGIN_PCT_NONE) Py_RETURN_NONE;
    if (h == INT64_MAX || h == INT64_MIN + 1) /* clamped: the exact value from the amounts */
        return PyObject_CallFunctionObjArgs(MarginExact, cost, revenue, NULL);
    uint64_t a = h < 0 ? (uint64_t)0 - (uint64_t)h : (uint64_t)h;
    char buf[48];
    int n = snprintf(buf, sizeof buf, "%s%llu.%02llu", h < 0 ? "-" : "", (unsigned long long)(a / 100),
                     (unsigned long long)(a % 100));
    PyObject *s = PyUnicode_FromStringAndSize(buf, n);
    if (s == NULL) return NULL;
    PyObject *r = PyObject_CallOneArg(DecimalType, s);
    Py_DECREF(s);
    return r;
}

static PyObject *make_decision(const struct tg_decision *d) {
    PyObject *v[N_DECISION_SLOTS] = {0};
    PyObject *result = NULL;
    if (d->verdict < 0 || d->verdict >= PyTuple_GET_SIZE(Verdicts) || d->reason < 0 ||
        d->reason >= PyTuple_GET_SIZE(GuardReasons)) {
        raise_msg(TG_ERR_PANIC, "tg_allow: unknown verdict %d or reason %d", (int)d->verdict, (int)d->reason);
        return NULL;
    }
    v[0] = new_ref(PyTuple_GET_ITEM(Verdicts, d->verdict));
    v[1] = new_ref(PyTuple_GET_ITEM(GuardReasons, d->reason));
    v[2] = new_ref(d->flagged ? Py_True : Py_False);
    if ((v[3] = text_or_none(d->policy_id, d->policy_id_len)) == NULL) goto out;
    if ((v[4] = text_or_none(d->period_label, d->period_label_len)) == NULL) goto out;
    if ((v[5] = text_or_none(d->suggested_model, d->suggested_model_len)) == NULL) goto out;
    if ((v[6] = decimal_from_raw(d->cost_cents)) == NULL) goto out;
    if ((v[7] = decimal_from_raw(d->revenue_cents)) == NULL) goto out;
    if ((v[8] = margin_of(d, v[6], v[7])) == NULL) goto out;
    v[9] = d->has_remaining_budget ? decimal_from_raw(d->remaining_budget_cents) : new_ref(Py_None);
    if (v[9] == NULL) goto out;
    v[10] = d->has_estimate ? decimal_from_raw(d->estimate_cents) : new_ref(Py_None);
    if (v[10] == NULL) goto out;
    v[11] = d->reservation_id ? PyLong_FromUnsignedLongLong(d->reservation_id) : new_ref(Py_None);
    if (v[11] == NULL) goto out;
    v[12] = new_ref(Py_None); /* _json: to_dict() builds the product shape from the fields */
    PyTypeObject *tp = (PyTypeObject *)DecisionType;
    PyObject *o = tp->tp_alloc(tp, 0);
    if (o == NULL) goto out;
    for (int i = 0; i < N_DECISION_SLOTS; i++) {
        if (PyObject_GenericSetAttr(o, decision_slot[i], v[i]) < 0) {
            Py_DECREF(o);
            goto out;
        }
    }
    result = o;
out:
    for (int i = 0; i < N_DECISION_SLOTS; i++) Py_XDECREF(v[i]);
    return result;
}

/* allow(cell, customer_id, agent_id, model, estimated_cost_cents, run_id, usage, provider,
 * at_ms, reserve, ttl_ms) -> Decision through tg_allow (no JSON), or None when these
 * arguments are not for the fast path: an argument of another type, an empty text, a usage
 * with other fields, a library error (errors change nothing, so the JSON path asks again and
 * raises its precise error), a closed engine. */
static PyObject *fast_allow(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 11) {
        PyErr_SetString(PyExc_TypeError, "allow(cell, customer_id, agent_id, model, estimated_cost_cents, run_id, "
                                         "usage, provider, at_ms, reserve, ttl_ms)");
        return NULL;
    }
    if (p_allow == NULL || DecisionType == NULL || p_decimal_parse == NULL || DecimalType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tollgate_engine._fast: setup() and setup_guard() were not called");
        return NULL;
    }
    PyObject *customer = args[1], *agent = args[2], *model = args[3], *estimate = args[4], *run = args[5],
             *usage = args[6], *provider = args[7], *at_ms = args[8], *reserve = args[9], *ttl_ms = args[10];
    struct tg_allow_request r;
    memset(&r, 0, sizeof r);
    if (customer == Py_None || !text_arg(customer, &r.customer_id, &r.customer_id_len) ||
        !text_arg(agent, &r.agent_id, &r.agent_id_len) || !text_arg(run, &r.run_id, &r.run_id_len) ||
        !text_arg(model, &r.model, &r.model_len) || !text_arg(provider, &r.provider, &r.provider_len))
        Py_RETURN_NONE;
    if (estimate != Py_None && usage != Py_None) Py_RETURN_NONE;
    if (estimate != Py_None) {
        int rc = estimate_arg(estimate, &r.estimate_cents);
        if (rc < 0) return NULL;
        if (rc == 0) Py_RETURN_NONE;
        r.flags |= TG_ALLOW_HAS_ESTIMATE;
    }
    if (usage != Py_None) {
        if (r.model == NULL || !usage_arg(usage, &r)) Py_RETURN_NONE;
        r.flags |= TG_ALLOW_HAS_USAGE;
    }
    r.at_ms = TG_AT_NOW;
    if (at_ms != Py_None) {
        if (!PyLong_CheckExact(at_ms)) Py_RETURN_NONE;
        int overflow;
        long long t = PyLong_AsLongLongAndOverflow(at_ms, &overflow);
        if (overflow || t == TG_AT_NOW || (t == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        r.at_ms = t;
    }
    int reserving = PyObject_IsTrue(reserve);
    if (reserving < 0) return NULL;
    if (reserving) r.flags |= TG_ALLOW_RESERVE;
    if (ttl_ms != Py_None) {
        /* 0 means the default in the fixed layout but is an error in JSON; a ttl without a
         * reservation is an error too: both take the JSON path. */
        if (!reserving || !PyLong_CheckExact(ttl_ms)) Py_RETURN_NONE;
        int overflow;
        long long t = PyLong_AsLongLongAndOverflow(ttl_ms, &overflow);
        if (overflow || t <= 0) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        r.ttl_ms = (uint64_t)t;
    }
    void *h;
    if (read_handle(args[0], &h) < 0) return NULL;
    if (h == NULL) Py_RETURN_NONE;
    struct tg_decision d;
    struct tg_error err;
    /* The GIL stays held: close() cannot free the handle during this short call. */
    int32_t status = p_allow((const struct tg_engine *)h, &r, &d, &err);
    if (status != TG_OK) Py_RETURN_NONE;
    return make_decision(&d);
}

/* setup_guard(Decision, verdicts, reasons, margin_exact, tg_allow address). */
static PyObject *fast_setup_guard(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *decision, *verdicts, *reasons, *margin;
    unsigned long long f_allow;
    if (!PyArg_ParseTuple(args, "O!O!O!OK", &PyType_Type, &decision, &PyTuple_Type, &verdicts, &PyTuple_Type,
                          &reasons, &margin, &f_allow))
        return NULL;
    if (!f_allow) {
        PyErr_SetString(PyExc_ValueError, "setup_guard: the tg_allow address is NULL");
        return NULL;
    }
    Py_XSETREF(DecisionType, new_ref(decision));
    Py_XSETREF(Verdicts, new_ref(verdicts));
    Py_XSETREF(GuardReasons, new_ref(reasons));
    Py_XSETREF(MarginExact, new_ref(margin));
    p_allow = (__typeof__(p_allow))(uintptr_t)f_allow;
    Py_RETURN_NONE;
}

/* decimals(costs: bytes) -> list[Decimal]: the exact cents of a costs column. */
static PyObject *fast_decimals(PyObject *Py_UNUSED(self), PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t n = view.len / (Py_ssize_t)sizeof(tg_decimal);
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
        tg_decimal d;
        memcpy(&d, (const char *)view.buf + i * (Py_ssize_t)sizeof d, sizeof d);
        PyObject *v = decimal_from_raw(d);
        if (v == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, v);
    }
    PyBuffer_Release(&view);
    return list;
}

/* ---- Tracking a raw provider response in one crossing (the SDK wrappers' non-stream path).
 *
 * track_response(cell, provider, model, body, context, results) calls tg_track_response with
 * the library's output in a buffer on the C stack (a heap one when a response has more line
 * items than it holds), the GIL released while the engine extracts, prices and books. The
 * caller holds the engine's use count (Engine._enter), so close() cannot free it meanwhile.
 * results false: returns None when every line item was "accepted" or "duplicate" (the
 * wrappers' fast path reads nothing else), else the output bytes for the caller to report;
 * results true: always the output bytes ({"results":[...]}). A failed call raises the
 * package's error for its status, as the ctypes path does. */
static __typeof__(&tg_track_response) p_track_response;

#define TRACK_STACK_OUT (2 * TG_RECORD_OUT_MAX + 64)

/* Every result object the library writes starts with {"status":"<status>" and no string
 * in it can hold an unescaped quote, so counting these openings counts the results. */
static int all_booked(const uint8_t *out, size_t len) {
    static const char open[] = "{\"status\":\"";
    const size_t n = sizeof open - 1;
    size_t results = 0, booked = 0;
    for (size_t i = 0; i + n <= len; i++) {
        if (out[i] != '{' || memcmp(out + i, open, n) != 0) continue;
        results++;
        const uint8_t *v = out + i + n;
        size_t rest = len - i - n;
        if ((rest >= 9 && memcmp(v, "accepted\"", 9) == 0) || (rest >= 10 && memcmp(v, "duplicate\"", 10) == 0))
            booked++;
        i += n - 1;
    }
    return results > 0 && results == booked;
}

/* Optional bytes-like argument: (NULL, 0) for None. */
static int opt_view(PyObject *obj, Py_buffer *view, const char *name) {
    if (obj == Py_None) {
        view->obj = NULL;
        view->buf = NULL;
        view->len = 0;
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes or None", name);
        return -1;
    }
    return 0;
}

static void release_view(Py_buffer *view) {
    if (view->obj != NULL) PyBuffer_Release(view);
}

static PyObject *fast_track_response(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "track_response(cell, provider, model, body, context, results)");
        return NULL;
    }
    if (p_track_response == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "track_response: setup_track was not called");
        return NULL;
    }
    int want = PyObject_IsTrue(args[5]);
    if (want < 0) return NULL;
    void *h = NULL;
    if (read_handle(args[0], &h) < 0) return NULL;
    if (h == NULL) return raise_msg(TG_ERR_INVALID_HANDLE, "engine is closed");
    Py_buffer v[4];
    const char *names[4] = {"provider", "model", "body", "context"};
    int opened = 0;
    for (; opened < 4; opened++)
        if (opt_view(args[1 + opened], &v[opened], names[opened]) < 0) break;
    PyObject *result = NULL;
    if (opened == 4) {
        uint8_t stack_out[TRACK_STACK_OUT];
        uint8_t *out = stack_out;
        size_t cap = sizeof stack_out, out_len = 0;
        struct tg_error err;
        int32_t status;
        for (;;) {
            err.status = 0;
            err.message_len = 0;
            Py_BEGIN_ALLOW_THREADS
            status = p_track_response(h, v[0].buf, (size_t)v[0].len, v[1].buf, (size_t)v[1].len, v[2].buf,
                                      (size_t)v[2].len, v[3].buf, (size_t)v[3].len, out, cap, &out_len, &err);
            Py_END_ALLOW_THREADS
            /* Too small is reported after extraction and before anything is tracked: grow once. */
            if (status != TG_ERR_BUFFER_TOO_SMALL || out != stack_out || out_len <= cap) break;
            out = PyMem_Malloc(out_len);
            if (out == NULL) {
                PyErr_NoMemory();
                break;
            }
            cap = out_len;
        }
        if (out != NULL) {
            if (status != TG_OK) {
                raise_status(status, &err, "track_response failed");
            } else if (!want && all_booked(out, out_len)) {
                Py_INCREF(Py_None);
                result = Py_None;
            } else {
                result = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)out_len);
            }
            if (out != stack_out) PyMem_Free(out);
        }
    }
    for (int i = 0; i < opened; i++) release_view(&v[i]);
    return result;
}

/* setup_track(address of tg_track_response): kept apart from setup() so the pricing setup
 * keeps its signature. */
static PyObject *fast_setup_track(PyObject *Py_UNUSED(self), PyObject *arg) {
    unsigned long long f = PyLong_AsUnsignedLongLong(arg);
    if (f == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (!f) {
        PyErr_SetString(PyExc_ValueError, "setup_track: the function address is NULL");
        return NULL;
    }
    p_track_response = (__typeof__(p_track_response))(uintptr_t)f;
    Py_RETURN_NONE;
}

static PyObject *fast_setup(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *a[8];
    unsigned long long f_batch, f_snapshot_batch, f_parse;
    if (!PyArg_ParseTuple(args, "OOOO!O!O!O!O!(KKK)", &a[0], &a[1], &a[2], &PyTuple_Type, &a[3], &PyTuple_Type,
                          &a[4], &PyTuple_Type, &a[5], &PyDict_Type, &a[6], &PyDict_Type, &a[7], &f_batch,
                          &f_snapshot_batch, &f_parse))
        return NULL;
    if (!f_batch || !f_snapshot_batch || !f_parse) {
        PyErr_SetString(PyExc_ValueError, "setup: a function address is NULL");
        return NULL;
    }
    PyObject **slots[] = {&PriceOutType, &DecimalType, &RaiseStatus, &Sources, &Matches, &Reasons, &Kinds, &Tiers};
    for (int i = 0; i < 8; i++) {
        Py_INCREF(a[i]);
        Py_XSETREF(*slots[i], a[i]);
    }
    p_price_batch = (__typeof__(p_price_batch))(uintptr_t)f_batch;
    p_snapshot_price_batch = (__typeof__(p_snapshot_price_batch))(uintptr_t)f_snapshot_batch;
    p_decimal_parse = (__typeof__(p_decimal_parse))(uintptr_t)f_parse;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", fast_setup, METH_VARARGS, "setup(PriceOut, Decimal, raise_status, sources, matches, reasons, kinds, tiers, (addresses))"},
    {"price", (PyCFunction)(void (*)(void))fast_price, METH_FASTCALL | METH_KEYWORDS, "price one event"},
    {"price_columns", (PyCFunction)(void (*)(void))fast_price_columns, METH_VARARGS | METH_KEYWORDS,
     "price whole columns"},
    {"format_cents", fast_format_cents, METH_VARARGS, "format_cents(hi, lo) -> exact decimal text"},
    {"price_items", fast_price_items, METH_VARARGS, "price_items(which, cell, items) -> list of PriceOut"},
    {"decimals", fast_decimals, METH_O, "decimals(costs) -> list of Decimal"},
    {"allow", (PyCFunction)(void (*)(void))fast_allow, METH_FASTCALL,
     "allow(cell, customer_id, agent_id, model, estimated_cost_cents, run_id, usage, provider, at_ms, reserve, "
     "ttl_ms) -> Decision, or None for the JSON path"},
    {"setup_guard", fast_setup_guard, METH_VARARGS, "setup_guard(Decision, verdicts, reasons, margin_exact, address)"},
    {"track_response", (PyCFunction)(void (*)(void))fast_track_response, METH_FASTCALL,
     "track_response(cell, provider, model, body, context, results) -> None | bytes"},
    {"setup_track", fast_setup_track, METH_O, "setup_track(address of tg_track_response)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods};

#define ADD_INT(m, name) PyModule_AddIntConstant(m, #name, (long)(name))
#define ADD_LAYOUT(d, type, field)                                                                   \
    do {                                                                                             \
        PyObject *v = Py_BuildValue("(nn)", (Py_ssize_t)offsetof(struct type, field),                \
                                    (Py_ssize_t)sizeof(((struct type *)0)->field));                  \
        if (v == NULL || PyDict_SetItemString(d, #type "." #field, v) < 0) return NULL;              \
        Py_DECREF(v);                                                                                \
    } while (0)

PyMODINIT_FUNC PyInit__fast(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    for (int i = 0; i < N_PRICE_KW; i++)
        if ((price_kw[i] = PyUnicode_InternFromString(PRICE_KW[i])) == NULL) return NULL;
    if ((cell_name = PyUnicode_InternFromString("_cell")) == NULL) return NULL;
    for (int i = 0; i < N_USAGE_KEYS; i++)
        if ((usage_key[i] = PyUnicode_InternFromString(USAGE_KEYS[i])) == NULL) return NULL;
    for (int i = 0; i < N_DECISION_SLOTS; i++)
        if ((decision_slot[i] = PyUnicode_InternFromString(DECISION_SLOTS[i])) == NULL) return NULL;
    for (int i = 0; i < N_ITEM_ATTRS; i++)
        if ((item_attr[i] = PyUnicode_InternFromString(ITEM_ATTRS[i])) == NULL) return NULL;
    if (PyType_Ready(&BoundPriceType) < 0 || PyType_Ready(&PriceMethodType) < 0) return NULL;
    Py_INCREF(&PriceMethodType);
    if (PyModule_AddObject(m, "PriceMethod", (PyObject *)&PriceMethodType) < 0) return NULL;
    /* The header's constants, for the suite to compare with the ctypes layer. */
    PyObject *h = PyDict_New();
    if (h == NULL) return NULL;
#define H(name)                                                                                      \
    do {                                                                                             \
        PyObject *v = PyLong_FromLongLong((long long)(name));                                        \
        if (v == NULL || PyDict_SetItemString(h, #name, v) < 0) return NULL;                         \
        Py_DECREF(v);                                                                                \
    } while (0)
    H(TG_ABI_VERSION); H(TG_ABI_VERSION_MAJOR); H(TG_ABI_VERSION_MINOR); H(TG_CENTS_SCALE); H(TG_CLOCK_SYSTEM);
    H(TG_DECIMAL_STRING_MAX); H(TG_DEDUPE_WINDOW_DEFAULT); H(TG_DEDUPE_WINDOW_FOREVER); H(TG_ERROR_MESSAGE_CAP);
    H(TG_ERR_BUFFER_TOO_SMALL); H(TG_ERR_INVALID_HANDLE); H(TG_ERR_INVALID_INPUT); H(TG_ERR_INVALID_UTF8);
    H(TG_ERR_LIMIT); H(TG_ERR_MISUSE); H(TG_ERR_NOT_FOUND); H(TG_ERR_NO_USAGE); H(TG_ERR_NULL);
    H(TG_ERR_OVERFLOW); H(TG_ERR_PANIC); H(TG_ERR_RATE_CARD); H(TG_ERR_STATE); H(TG_ERR_TOO_LATE);
    H(TG_ITEM_HAS_EXTERNAL_COST); H(TG_ITEM_HAS_PROVIDER_COST); H(TG_KIND_LLM); H(TG_KIND_RETRIEVAL);
    H(TG_KIND_TOOL); H(TG_MARGIN_PCT_NONE); H(TG_MATCH_ALIAS); H(TG_MATCH_EXACT); H(TG_MATCH_INFERRED);
    H(TG_MATCH_NONE); H(TG_MATCH_OVERRIDE); H(TG_MATCH_STRIPPED); H(TG_MAX_BATCH_ITEMS); H(TG_MAX_BODY_BYTES);
    H(TG_MAX_CHUNK_BYTES); H(TG_MAX_DECIMAL_TEXT_BYTES); H(TG_MAX_DEDUPE_WINDOW_MS); H(TG_MAX_JSON_BYTES);
    H(TG_MAX_NAMES_BYTES); H(TG_MAX_OVERRIDE_BYTES); H(TG_MAX_PROVIDER_BYTES); H(TG_MAX_RATE_CARD_BYTES);
    H(TG_MAX_STATE_BYTES); H(TG_OK); H(TG_REASON_NONE); H(TG_REASON_NO_TOKEN_PRICE); H(TG_REASON_UNKNOWN_MODEL);
    H(TG_RECORD_OUT_MAX); H(TG_SNAPSHOT_CURRENT); H(TG_SOURCE_EXTERNAL); H(TG_SOURCE_PROVIDER);
    H(TG_SOURCE_RATE_CARD); H(TG_SOURCE_UNPRICED); H(TG_TIER_BALANCED); H(TG_TIER_BATCH); H(TG_TIER_FLEX);
    H(TG_TIER_PRIORITY); H(TG_TIER_STANDARD); H(TG_TIER_ULTRAFAST); H(TG_TIMESTAMP_NONE);
    H(sizeof(struct tg_price_item)); H(sizeof(struct tg_price_out)); H(sizeof(struct tg_margin));
    H(sizeof(struct tg_error)); H(sizeof(struct tg_engine_options)); H(sizeof(tg_decimal));
#undef H
    if (PyModule_AddObject(m, "HEADER", h) < 0) return NULL;
    PyObject *l = PyDict_New();
    if (l == NULL) return NULL;
    ADD_LAYOUT(l, tg_price_item, tokens_in);
    ADD_LAYOUT(l, tg_price_item, tool_calls);
    ADD_LAYOUT(l, tg_price_item, timestamp_ms);
    ADD_LAYOUT(l, tg_price_item, provider_cost_cents);
    ADD_LAYOUT(l, tg_price_item, external_cost_cents);
    ADD_LAYOUT(l, tg_price_item, provider);
    ADD_LAYOUT(l, tg_price_item, model);
    ADD_LAYOUT(l, tg_price_item, inference_geo);
    ADD_LAYOUT(l, tg_price_item, speed);
    ADD_LAYOUT(l, tg_price_item, kind);
    ADD_LAYOUT(l, tg_price_item, service_tier);
    ADD_LAYOUT(l, tg_price_item, flags);
    ADD_LAYOUT(l, tg_price_out, cost_cents);
    ADD_LAYOUT(l, tg_price_out, snapshot_id);
    ADD_LAYOUT(l, tg_price_out, status);
    ADD_LAYOUT(l, tg_price_out, priced);
    ADD_LAYOUT(l, tg_price_out, source);
    ADD_LAYOUT(l, tg_price_out, match_kind);
    ADD_LAYOUT(l, tg_price_out, reason);
    ADD_LAYOUT(l, tg_price_out, warning_count);
    ADD_LAYOUT(l, tg_margin, margin_pct_hundredths);
    ADD_LAYOUT(l, tg_margin, runs_failed);
    ADD_LAYOUT(l, tg_error, message);
    if (PyModule_AddObject(m, "LAYOUT", l) < 0) return NULL;
    return m;
}
