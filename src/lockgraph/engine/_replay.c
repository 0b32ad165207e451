/*
 * lockgraph.engine._replay: the optional C version of Engine.replay().
 *
 * It runs the same loop as the pure-Python Engine._replay() in core.py, with the
 * fast paths of Engine.acquire and Engine.release inlined (the only copy of them;
 * tests/engine/test_paths.py drives both through the same traces and compares the
 * graphs), and calls back into the engine's Python methods for everything else (a new line, a chain never seen, an
 * out-of-order release, any other event). The engine's objects are slotted
 * Python classes; this module reads and writes their slots directly, at the
 * offsets their member descriptors give, after checking each object's exact
 * type. An object of any other type makes it fall back to the Python methods.
 *
 * If this module cannot be built or imported, core.py uses the Python loop:
 * the results are the same, only slower. The test suite runs both.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyTypeObject *use_type, *lock_type, *task_type, *ichain_type, *chain_type;
    Py_ssize_t use_lock;
    Py_ssize_t lock_owner, lock_reentrant, lock_depth;
    Py_ssize_t task_ichain, task_held, task_token;
    Py_ssize_t ich_next, ich_slow, ich_chain;
    Py_ssize_t chain_hits, chain_tokens;
    PyObject *acquire, *release;
    PyObject *s_index, *s_acquire_slow, *s_release_slow, *s_occur;
    int ready;
} State;

static State st;

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

static void
set_slot(PyObject *obj, Py_ssize_t off, PyObject *value)
{
    PyObject *old = SLOT(obj, off);
    Py_INCREF(value);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

static int
offset_of(PyTypeObject *type, const char *name, Py_ssize_t *out)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL)
        return -1;
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, name);
        Py_DECREF(descr);
        return -1;
    }
    PyMemberDef *def = ((PyMemberDescrObject *)descr)->d_member;
    if (def->type != T_OBJECT_EX && def->type != T_OBJECT) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", type->tp_name, name);
        Py_DECREF(descr);
        return -1;
    }
    *out = def->offset;
    Py_DECREF(descr);
    return 0;
}

static PyTypeObject *
type_of(PyObject *module, const char *name)
{
    PyObject *t = PyObject_GetAttrString(module, name);
    if (t != NULL && !PyType_Check(t)) {
        PyErr_Format(PyExc_TypeError, "%s is not a class", name);
        Py_CLEAR(t);
    }
    return (PyTypeObject *)t; /* kept for the life of the process */
}

static int
prepare(void)
{
    if (st.ready)
        return 0;
    PyObject *model = PyImport_ImportModule("lockgraph.engine.model");
    PyObject *chains = PyImport_ImportModule("lockgraph.engine.chains");
    PyObject *core = PyImport_ImportModule("lockgraph.engine.core");
    int rc = -1;
    if (!model || !chains || !core)
        goto done;
    if (!(st.use_type = type_of(model, "LockUse")) || !(st.lock_type = type_of(model, "LockInstance"))
        || !(st.task_type = type_of(model, "Task"))
        || !(st.ichain_type = type_of(chains, "InstanceChain"))
        || !(st.chain_type = type_of(chains, "ClassChain")))
        goto done;
    if (offset_of(st.use_type, "lock", &st.use_lock) || offset_of(st.lock_type, "owner", &st.lock_owner)
        || offset_of(st.lock_type, "reentrant", &st.lock_reentrant)
        || offset_of(st.lock_type, "depth", &st.lock_depth)
        || offset_of(st.task_type, "ichain", &st.task_ichain)
        || offset_of(st.task_type, "held", &st.task_held)
        || offset_of(st.task_type, "token", &st.task_token)
        || offset_of(st.ichain_type, "next", &st.ich_next)
        || offset_of(st.ichain_type, "slow", &st.ich_slow)
        || offset_of(st.ichain_type, "chain", &st.ich_chain)
        || offset_of(st.chain_type, "hits", &st.chain_hits)
        || offset_of(st.chain_type, "tokens", &st.chain_tokens))
        goto done;
    if (!(st.acquire = PyObject_GetAttrString(core, "ACQUIRE"))
        || !(st.release = PyObject_GetAttrString(core, "RELEASE")))
        goto done;
    if (!(st.s_index = PyUnicode_InternFromString("index"))
        || !(st.s_acquire_slow = PyUnicode_InternFromString("_acquire_slow"))
        || !(st.s_release_slow = PyUnicode_InternFromString("_release_slow"))
        || !(st.s_occur = PyUnicode_InternFromString("_occur")))
        goto done;
    st.ready = 1;
    rc = 0;
done:
    Py_XDECREF(model);
    Py_XDECREF(chains);
    Py_XDECREF(core);
    return rc;
}

static int
set_index(PyObject *engine, long long index)
{
    PyObject *v = PyLong_FromLongLong(index);
    if (v == NULL)
        return -1;
    int rc = PyObject_SetAttr(engine, st.s_index, v);
    Py_DECREF(v);
    return rc;
}

static int
get_index(PyObject *engine, long long *index)
{
    PyObject *v = PyObject_GetAttr(engine, st.s_index);
    if (v == NULL)
        return -1;
    *index = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return (*index == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* The acquire fast path; 1 if done, 0 if the caller must use the Python method. */
static int
fast_acquire(PyObject *engine, PyObject *task, PyObject *use, PyObject *site, long long index,
             int *error)
{
    if (!Py_IS_TYPE(use, st.use_type) || !Py_IS_TYPE(task, st.task_type))
        return 0;
    PyObject *lock = SLOT(use, st.use_lock);
    if (lock == NULL || !Py_IS_TYPE(lock, st.lock_type))
        return 0;
    if (SLOT(lock, st.lock_owner) == task && SLOT(lock, st.lock_reentrant) == Py_True)
        return 0; /* a re-entry: rare, done in Python */
    PyObject *ichain = SLOT(task, st.task_ichain);
    if (ichain == NULL || !Py_IS_TYPE(ichain, st.ichain_type))
        return 0;
    PyObject *next = SLOT(ichain, st.ich_next);
    if (next == NULL || !PyDict_CheckExact(next))
        return 0;
    PyObject *inxt = PyDict_GetItemWithError(next, use); /* borrowed */
    if (inxt == NULL) {
        if (PyErr_Occurred())
            *error = 1;
        return 0;
    }
    if (!Py_IS_TYPE(inxt, st.ichain_type) || SLOT(inxt, st.ich_slow) != Py_False)
        return 0;
    PyObject *chain = SLOT(inxt, st.ich_chain);
    PyObject *held = SLOT(task, st.task_held);
    if (chain == NULL || !Py_IS_TYPE(chain, st.chain_type) || held == NULL
        || !PyList_CheckExact(held))
        return 0;
    PyObject *hits = SLOT(chain, st.chain_hits);
    PyObject *tokens = SLOT(chain, st.chain_tokens);
    PyObject *token = SLOT(task, st.task_token);
    if (hits == NULL || !PyLong_CheckExact(hits) || tokens == NULL || !PySet_CheckExact(tokens)
        || token == NULL)
        return 0;
    long long n = PyLong_AsLongLong(hits);
    if (n == -1 && PyErr_Occurred()) {
        *error = 1;
        return 0;
    }
    PyObject *new_hits = PyLong_FromLongLong(n + 1);
    PyObject *event = PyLong_FromLongLong(index);
    PyObject *entry = (new_hits && event) ? PyTuple_Pack(4, use, site, ichain, event) : NULL;
    Py_XDECREF(event);
    if (entry == NULL || PyList_Append(held, entry) < 0) {
        Py_XDECREF(entry);
        Py_XDECREF(new_hits);
        *error = 1;
        return 0;
    }
    Py_DECREF(entry);
    Py_INCREF(inxt); /* ``next`` may lose it while we set the slot */
    set_slot(task, st.task_ichain, inxt);
    set_slot(lock, st.lock_owner, task);
    PyObject *old = SLOT(chain, st.chain_hits);
    SLOT(chain, st.chain_hits) = new_hits;
    Py_XDECREF(old);
    int seen = PySet_Contains(tokens, token);
    if (seen < 0) {
        *error = 1;
    } else if (!seen) {
        PyObject *r = PyObject_CallMethodObjArgs(engine, st.s_occur, task, chain, use, site, NULL);
        if (r == NULL)
            *error = 1;
        Py_XDECREF(r);
    }
    Py_DECREF(inxt);
    return 1;
}

/* The release fast path: the lock is on top of the task's stack. */
static int
fast_release(PyObject *task, PyObject *lock)
{
    if (!Py_IS_TYPE(task, st.task_type) || !Py_IS_TYPE(lock, st.lock_type))
        return 0;
    PyObject *held = SLOT(task, st.task_held);
    PyObject *depth = SLOT(lock, st.lock_depth);
    if (held == NULL || !PyList_CheckExact(held) || depth == NULL || !PyLong_CheckExact(depth))
        return 0;
    Py_ssize_t n = PyList_GET_SIZE(held);
    if (n == 0)
        return 0;
    long d = PyLong_AsLong(depth);
    if (d != 0) {
        PyErr_Clear();
        return 0; /* a reentrant lock's inner release, or an odd depth: Python decides */
    }
    PyObject *top = PyList_GET_ITEM(held, n - 1);
    if (!PyTuple_CheckExact(top) || PyTuple_GET_SIZE(top) != 4)
        return 0;
    PyObject *use = PyTuple_GET_ITEM(top, 0);
    if (!Py_IS_TYPE(use, st.use_type) || SLOT(use, st.use_lock) != lock)
        return 0;
    Py_INCREF(top);
    if (PyList_SetSlice(held, n - 1, n, NULL) < 0) {
        Py_DECREF(top);
        return -1;
    }
    set_slot(task, st.task_ichain, PyTuple_GET_ITEM(top, 2));
    set_slot(lock, st.lock_owner, Py_None);
    Py_DECREF(top);
    return 1;
}


/*
 * The memo of untimed lines: a table keyed by a line without its tracer timestamp,
 * so that no key object is made or hashed by Python for a line seen before. Each
 * key's characters (its raw code units) are kept in an arena; a lookup hashes the
 * line's two halves (before the timestamp, and from the ": " after it) a word at a
 * time and compares in full with memcmp.
 */
typedef struct {
    uint64_t hash;
    size_t off, len; /* the key's bytes in the arena */
    PyObject *action; /* NULL: a free slot */
} Entry;

typedef struct {
    Entry *entries;
    size_t cap, count;
    char *arena;
    size_t used, size;
} Table;

/*
 * Where the key of a line splits: line[:c0] + line[c1:], with line[c0:c1] the space
 * and the timestamp, if any. The split is always at the first ": " (c0 == c1 there
 * when there is no timestamp; both are the length when there is no ": "), so one key
 * splits the same way whatever line it came from.
 */
static void
timestamp_cut(PyObject *line, Py_ssize_t *c0, Py_ssize_t *c1)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(line);
    *c0 = *c1 = n;
    int kind = PyUnicode_KIND(line);
    const void *data = PyUnicode_DATA(line);
    Py_ssize_t b = -1;
    if (kind == PyUnicode_1BYTE_KIND) {
        const char *p = data, *end = p + n;
        for (const char *q = p; (q = memchr(q, ':', (size_t)(end - q))) != NULL; q++) {
            if (q + 1 < end && q[1] == ' ') {
                b = q - p;
                break;
            }
        }
    } else {
        for (Py_ssize_t i = 0; i + 1 < n; i++) {
            if (PyUnicode_READ(kind, data, i) == ':' && PyUnicode_READ(kind, data, i + 1) == ' ') {
                b = i;
                break;
            }
        }
    }
    if (b < 0)
        return;
    *c0 = *c1 = b;
    if (b == 0)
        return;
    Py_ssize_t a = b;
    int digits = 0, dots = 0;
    while (a > 0) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, a - 1);
        if (ch >= '0' && ch <= '9')
            digits++;
        else if (ch == '.')
            dots++;
        else
            break;
        a--;
    }
    if (digits == 0 || dots > 1 || a == 0 || PyUnicode_READ(kind, data, a - 1) != ' ')
        return;
    *c0 = a - 1;
    *c1 = b;
}

static PyObject *
cut_line(PyObject *line, Py_ssize_t c0, Py_ssize_t c1)
{
    if (c0 == c1) {
        Py_INCREF(line);
        return line;
    }
    PyObject *head = PyUnicode_Substring(line, 0, c0);
    PyObject *tail = head ? PyUnicode_Substring(line, c1, PyUnicode_GET_LENGTH(line)) : NULL;
    PyObject *key = tail ? PyUnicode_Concat(head, tail) : NULL;
    Py_XDECREF(head);
    Py_XDECREF(tail);
    return key;
}

/* A key as two byte ranges of the line's code units: head, then tail. */
typedef struct {
    const char *head, *tail;
    size_t head_len, tail_len;
    int kind;
} Key;

static Key
key_of(PyObject *line, Py_ssize_t c0, Py_ssize_t c1)
{
    int kind = PyUnicode_KIND(line);
    const char *data = PyUnicode_DATA(line);
    Py_ssize_t n = PyUnicode_GET_LENGTH(line);
    Key k = {data, data + (size_t)c1 * kind, (size_t)c0 * kind, (size_t)(n - c1) * kind, kind};
    return k;
}

static inline uint64_t
mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

static uint64_t
hash_bytes(uint64_t h, const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = mix(h, w);
    }
    uint64_t last = 0;
    memcpy(&last, p + i, n - i);
    return mix(h, last ^ ((uint64_t)n << 56));
}

static uint64_t
key_hash(const Key *k)
{
    uint64_t h = 0x243F6A8885A308D3ULL ^ (uint64_t)k->kind;
    return hash_bytes(hash_bytes(h, k->head, k->head_len), k->tail, k->tail_len);
}

static int
key_equal(const Table *t, const Entry *e, const Key *k)
{
    if (e->len != 1 + k->head_len + k->tail_len)
        return 0;
    const char *stored = t->arena + e->off;
    return stored[0] == (char)k->kind && memcmp(stored + 1, k->head, k->head_len) == 0
           && memcmp(stored + 1 + k->head_len, k->tail, k->tail_len) == 0;
}

static Entry *
table_find(Table *t, uint64_t h, const Key *k)
{
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        Entry *e = &t->entries[i];
        if (e->action == NULL || (e->hash == h && key_equal(t, e, k)))
            return e;
    }
}

static int
table_store(Table *t, Entry *e, uint64_t h, const Key *k, PyObject *action)
{
    size_t len = 1 + k->head_len + k->tail_len;
    if (t->used + len > t->size) {
        size_t size = t->size ? t->size * 2 : 1 << 16;
        while (size < t->used + len)
            size *= 2;
        char *arena = PyMem_Realloc(t->arena, size);
        if (arena == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        t->arena = arena;
        t->size = size;
    }
    char *dst = t->arena + t->used;
    dst[0] = (char)k->kind;
    memcpy(dst + 1, k->head, k->head_len);
    memcpy(dst + 1 + k->head_len, k->tail, k->tail_len);
    Py_INCREF(action);
    *e = (Entry){h, t->used, len, action};
    t->used += len;
    t->count++;
    return 0;
}

static int
table_grow(Table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    Entry *fresh = PyMem_Calloc(cap, sizeof(Entry));
    if (fresh == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        Entry *old = &t->entries[i];
        if (old->action == NULL)
            continue;
        size_t j = (size_t)old->hash & (cap - 1);
        while (fresh[j].action != NULL)
            j = (j + 1) & (cap - 1);
        fresh[j] = *old;
    }
    PyMem_Free(t->entries);
    t->entries = fresh;
    t->cap = cap;
    return 0;
}

static void
table_free(Table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        Py_XDECREF(t->entries[i].action);
    PyMem_Free(t->entries);
    PyMem_Free(t->arena);
    *t = (Table){NULL, 0, 0, NULL, 0, 0};
}

static PyObject *
replay(PyObject *module, PyObject *args)
{
    PyObject *engine, *lines, *memo, *parse;
    Py_ssize_t first_line, memo_limit;
    int untimed = 0;
    if (!PyArg_ParseTuple(args, "OOO!Onn|p", &engine, &lines, &PyDict_Type, &memo, &parse,
                          &first_line, &memo_limit, &untimed))
        return NULL;
    Table table = {NULL, 0, 0, NULL, 0, 0};
    if (prepare() < 0)
        return NULL;
    long long index;
    if (get_index(engine, &index) < 0)
        return NULL;
    PyObject *it = PyObject_GetIter(lines);
    if (it == NULL)
        return NULL;
    if (untimed && table_grow(&table) < 0) {
        Py_DECREF(it);
        return NULL;
    }
    Py_ssize_t lineno = first_line - 1;
    int failed = 0;
    PyObject *line;
    while (!failed && (line = PyIter_Next(it)) != NULL) {
        lineno++;
        PyObject *action = NULL;
        if (untimed) {
            if (!PyUnicode_Check(line)) {
                PyErr_SetString(PyExc_TypeError, "untimed lines must be str");
                Py_DECREF(line);
                failed = 1;
                break;
            }
            Py_ssize_t c0, c1;
            timestamp_cut(line, &c0, &c1);
            Key k = key_of(line, c0, c1);
            uint64_t h = key_hash(&k);
            Entry *e = table_find(&table, h, &k);
            if (e->action != NULL) {
                action = e->action;
                Py_INCREF(action);
            } else if (set_index(engine, index) < 0) {
                failed = 1;
            } else {
                PyObject *key = cut_line(line, c0, c1);
                action = key ? PyObject_CallFunction(parse, "On", key, lineno) : NULL;
                Py_XDECREF(key);
                if (action == NULL || get_index(engine, &index) < 0) {
                    failed = 1;
                } else if (action == Py_None) {
                    Py_CLEAR(action);
                } else if ((Py_ssize_t)table.count < memo_limit) {
                    /* the parse ran Python code, but this line (and ``e``) is unchanged */
                    if (table_store(&table, e, h, &k, action) < 0
                        || (table.count * 2 > table.cap && table_grow(&table) < 0))
                        failed = 1;
                }
            }
        } else {
            action = PyDict_GetItemWithError(memo, line); /* borrowed */
            if (action != NULL)
                Py_INCREF(action);
            else if (PyErr_Occurred())
                failed = 1;
            else if (set_index(engine, index) < 0)
                failed = 1;
            else {
                action = PyObject_CallFunction(parse, "On", line, lineno);
                if (action == NULL || get_index(engine, &index) < 0) {
                    failed = 1;
                } else if (action == Py_None) {
                    Py_CLEAR(action);
                } else if (PyDict_GET_SIZE(memo) < memo_limit
                           && PyDict_SetItem(memo, line, action) < 0) {
                    failed = 1;
                }
            }
        }
        Py_DECREF(line);
        if (failed || action == NULL) {
            Py_XDECREF(action);
            continue;
        }
        if (!PyTuple_CheckExact(action) || PyTuple_GET_SIZE(action) != 4) {
            PyErr_SetString(PyExc_TypeError, "an action is a tuple (op, task, what, site)");
            Py_DECREF(action);
            failed = 1;
            break;
        }
        PyObject *op = PyTuple_GET_ITEM(action, 0);
        PyObject *task = PyTuple_GET_ITEM(action, 1);
        PyObject *what = PyTuple_GET_ITEM(action, 2);
        PyObject *site = PyTuple_GET_ITEM(action, 3);
        PyObject *r = NULL;
        if (op == st.acquire) {
            index++;
            int error = 0;
            if (fast_acquire(engine, task, what, site, index, &error)) {
                failed = error;
            } else if (error) {
                failed = 1;
            } else if (set_index(engine, index - 1) < 0) {
                failed = 1;
            } else {
                /* the whole Python method: re-entry, a new chain, a recursion check */
                r = PyObject_CallMethod(engine, "acquire", "OOO", task, what, site);
                failed = (r == NULL || get_index(engine, &index) < 0);
            }
        } else if (op == st.release) {
            index++;
            int done = fast_release(task, what);
            if (done < 0) {
                failed = 1;
            } else if (!done) {
                if (set_index(engine, index) < 0) {
                    failed = 1;
                } else {
                    r = PyObject_CallMethodObjArgs(engine, st.s_release_slow, task, what, site,
                                                   NULL);
                    failed = (r == NULL || get_index(engine, &index) < 0);
                }
            }
        } else if (PyUnicode_CheckExact(op)) {
            /* a memory access (READ/WRITE): only the confirmation pass reads it */
        } else {
            if (set_index(engine, index) < 0) {
                failed = 1;
            } else {
                r = PyObject_CallFunctionObjArgs(op, task, what, site, NULL);
                failed = (r == NULL || get_index(engine, &index) < 0);
            }
        }
        Py_XDECREF(r);
        Py_DECREF(action);
    }
    Py_DECREF(it);
    table_free(&table);
    if (!failed && PyErr_Occurred())
        failed = 1; /* the iterator raised */
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    int index_failed = set_index(engine, index) < 0;
    if (failed) {
        PyErr_Restore(exc_type, exc_value, exc_tb);
        return NULL;
    }
    if (index_failed)
        return NULL;
    return PyLong_FromSsize_t(lineno - first_line + 1);
}

static PyMethodDef methods[] = {

    {"replay", replay, METH_VARARGS,
     "replay(engine, lines, memo, parse, first_line, memo_limit, untimed=False) -> lines read\n\n"
     "The C version of Engine.replay(); see lockgraph/engine/core.py."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_replay", "The C version of Engine.replay().", -1, methods,
};

PyMODINIT_FUNC
PyInit__replay(void)
{
    return PyModule_Create(&moduledef);
}
