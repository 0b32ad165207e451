/* lockgraph.runtime._cfast: the C implementation of the runtime's lock types.
 *
 * The pure-Python implementation (_pyfast.py) meets the same interface; see
 * _protocol.py for it and _pyfast.py for the algorithm in readable form.
 *
 * Each Lock/RLock owns a PyThread lock (no inner Python object: forwarding a call
 * would cost as much as the lock itself). Each thread has a ThreadState with its
 * held-lock stack and a set of the chain hashes it has already reported to the
 * engine. An acquisition whose chain hash (the held locks, in order, plus the new
 * one) is in that set costs a hash step and a set probe; only a miss calls the
 * Python hook, which feeds the engine under the recorder's own lock.
 *
 * While a thread is inside the hook ("busy"), or the runtime is inactive, the
 * locks still lock but record nothing: a finalizer or signal handler that runs
 * mid-bookkeeping never re-enters the engine.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <pythread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#if PY_VERSION_HEX < 0x030A0000
#error "lockgraph needs Python 3.10 or newer"
#endif

/* ------------------------------------------------------------------ state */

static int active = 0;
static PyObject *skip_file = NULL; /* frames of this file (threading.py) are passed over */
static PyObject *hook_acquire = NULL; /* hook(lock, ts, trylock) -> bool */
static PyObject *ts_key = NULL;       /* key of our ThreadState in the thread dict */
static uint64_t next_uid = 1;

typedef struct {
    PyObject *lock;  /* borrowed: a lock removes its entry when it is freed */
    PyObject *code;  /* strong, may be NULL */
    int where;       /* 3.11+: instruction offset; 3.10: line number */
    uintptr_t frame; /* identity of the frame, to find it again while it runs */
    uint64_t hash;
    char trylock;
} Entry;

typedef struct {
    PyObject_HEAD
    Entry *held;
    Py_ssize_t depth;
    Py_ssize_t cap;
    uint64_t *seen;
    size_t seen_cap;
    size_t seen_count;
    int busy;
    unsigned long ident;
    PyObject *task;
    PyObject *weakreflist;
} TSObject;

typedef struct {
    PyObject_HEAD
    PyThread_type_lock lk;
    char locked;
    char reentrant;
    unsigned long owner; /* RLock: owning thread ident, 0 if none */
    unsigned long count; /* RLock: recursion count */
    uint64_t uid;
    TSObject *holder; /* strong: the thread state whose stack has this lock, if tracked */
    PyObject *rec;    /* the Python-side record (class, name, engine handles) */
    PyObject *weakreflist;
} LockObject;

static PyTypeObject TSType;
static PyTypeObject LockType;
static PyTypeObject RLockType;

#define SEEN_INITIAL 1024
#define SEEN_MAX (1u << 16)
#define SEED 0x9E3779B97F4A7C15ULL

static __thread TSObject *cur_ts = NULL;

static inline uint64_t
mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    x = x ^ (x >> 31);
    return x ? x : 1;
}

static inline uint64_t
chain_hash(uint64_t top, uint64_t uid, int trylock)
{
    return mix(top ^ ((uid << 1) | (uint64_t)trylock));
}

/* ------------------------------------------------------------ thread state */

static int
seen_has(TSObject *ts, uint64_t h)
{
    if (ts->seen == NULL)
        return 0;
    size_t mask = ts->seen_cap - 1;
    size_t i = (size_t)h & mask;
    for (;;) {
        uint64_t v = ts->seen[i];
        if (v == h)
            return 1;
        if (v == 0)
            return 0;
        i = (i + 1) & mask;
    }
}

static void
seen_clear(TSObject *ts)
{
    if (ts->seen)
        memset(ts->seen, 0, ts->seen_cap * sizeof(uint64_t));
    ts->seen_count = 0;
}

static void
seen_add(TSObject *ts, uint64_t h)
{
    if (ts->seen == NULL) {
        ts->seen = PyMem_Calloc(SEEN_INITIAL, sizeof(uint64_t));
        if (ts->seen == NULL)
            return; /* no cache: every acquisition takes the slow path */
        ts->seen_cap = SEEN_INITIAL;
    }
    if ((ts->seen_count + 1) * 2 > ts->seen_cap) {
        if (ts->seen_cap >= SEEN_MAX) {
            seen_clear(ts); /* bounded: forget, the chains will be looked up again */
        }
        else {
            size_t ncap = ts->seen_cap * 2;
            uint64_t *n = PyMem_Calloc(ncap, sizeof(uint64_t));
            if (n == NULL)
                return;
            for (size_t j = 0; j < ts->seen_cap; j++) {
                uint64_t v = ts->seen[j];
                if (v) {
                    size_t k = (size_t)v & (ncap - 1);
                    while (n[k])
                        k = (k + 1) & (ncap - 1);
                    n[k] = v;
                }
            }
            PyMem_Free(ts->seen);
            ts->seen = n;
            ts->seen_cap = ncap;
        }
    }
    size_t mask = ts->seen_cap - 1;
    size_t i = (size_t)h & mask;
    while (ts->seen[i] && ts->seen[i] != h)
        i = (i + 1) & mask;
    if (ts->seen[i] == 0) {
        ts->seen[i] = h;
        ts->seen_count++;
    }
}

static TSObject *
ts_new_raw(void)
{
    TSObject *ts = PyObject_GC_New(TSObject, &TSType);
    if (ts == NULL)
        return NULL;
    ts->held = NULL;
    ts->depth = ts->cap = 0;
    ts->seen = NULL;
    ts->seen_cap = ts->seen_count = 0;
    ts->busy = 0;
    ts->ident = PyThread_get_thread_ident();
    ts->task = Py_None;
    Py_INCREF(Py_None);
    ts->weakreflist = NULL;
    PyObject_GC_Track(ts);
    return ts;
}

/* The calling thread's state; NULL (no exception) when none can be had, e.g. while
 * the thread's dictionary is being torn down at its end. */
static TSObject *
get_ts(void)
{
    if (cur_ts != NULL)
        return cur_ts;
    PyObject *d = PyThreadState_GetDict();
    if (d == NULL)
        return NULL;
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *found = PyDict_GetItemWithError(d, ts_key);
    if (found != NULL && Py_IS_TYPE(found, &TSType)) {
        cur_ts = (TSObject *)found;
        PyErr_Restore(exc_type, exc_value, exc_tb);
        return cur_ts;
    }
    PyErr_Clear();
    TSObject *ts = ts_new_raw();
    if (ts == NULL || PyDict_SetItem(d, ts_key, (PyObject *)ts) < 0) {
        Py_XDECREF(ts);
        PyErr_Clear();
        PyErr_Restore(exc_type, exc_value, exc_tb);
        return NULL;
    }
    Py_DECREF(ts); /* the thread dict keeps it */
    cur_ts = ts;
    PyErr_Restore(exc_type, exc_value, exc_tb);
    return ts;
}

static int
ts_grow(TSObject *ts)
{
    Py_ssize_t ncap = ts->cap ? ts->cap * 2 : 16;
    Entry *n = PyMem_Realloc(ts->held, (size_t)ncap * sizeof(Entry));
    if (n == NULL)
        return -1;
    ts->held = n;
    ts->cap = ncap;
    return 0;
}

static void
entry_clear(Entry *e)
{
    e->lock = NULL;
    Py_CLEAR(e->code);
}

/* Push an entry for `lock` (the caller's frame is the acquisition site). */
static int
ts_push(TSObject *ts, PyObject *lock, uint64_t h, int trylock)
{
    if (ts->depth == ts->cap && ts_grow(ts) < 0)
        return -1;
    Entry *e = &ts->held[ts->depth];
    e->lock = lock;
    e->code = NULL;
    e->where = -1;
    e->frame = 0;
    e->hash = h;
    e->trylock = (char)trylock;
    PyFrameObject *f = PyEval_GetFrame();
    Py_XINCREF(f);
    /* A Condition's or Semaphore's lock is taken in threading.py: the site that
     * matters is the caller's. */
    for (int hops = 0; f != NULL && skip_file != NULL && hops < 6; hops++) {
        PyCodeObject *code = PyFrame_GetCode(f);
        int skip = code->co_filename == skip_file;
        Py_DECREF(code);
        if (!skip)
            break;
        PyFrameObject *back = PyFrame_GetBack(f);
        if (back == NULL)
            break;
        Py_SETREF(f, back);
    }
    if (f != NULL) {
        e->code = (PyObject *)PyFrame_GetCode(f);
#if PY_VERSION_HEX >= 0x030B0000
        e->where = PyFrame_GetLasti(f);
#else
        e->where = PyFrame_GetLineNumber(f);
#endif
        e->frame = (uintptr_t)f;
        Py_DECREF(f);
    }
    ts->depth++;
    return 0;
}

/* Remove `lock` (the topmost entry for it) from `ts`; the entries above it get
 * their chain hashes recomputed. Returns 1 if found. */
static int
ts_remove(TSObject *ts, PyObject *lock)
{
    Py_ssize_t i;
    for (i = ts->depth - 1; i >= 0; i--) {
        if (ts->held[i].lock == lock)
            break;
    }
    if (i < 0)
        return 0;
    Entry removed = ts->held[i];
    for (Py_ssize_t j = i; j < ts->depth - 1; j++) {
        Entry *e = &ts->held[j];
        *e = ts->held[j + 1];
        uint64_t top = j ? ts->held[j - 1].hash : SEED;
        e->hash = chain_hash(top, ((LockObject *)e->lock)->uid, e->trylock);
    }
    ts->depth--;
    entry_clear(&removed);
    return 1;
}

static int
ts_traverse(TSObject *ts, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < ts->depth; i++)
        Py_VISIT(ts->held[i].code);
    Py_VISIT(ts->task);
    return 0;
}

static int
ts_clear_refs(TSObject *ts)
{
    Py_ssize_t depth = ts->depth;
    ts->depth = 0;
    for (Py_ssize_t i = 0; i < depth; i++)
        entry_clear(&ts->held[i]);
    Py_CLEAR(ts->task);
    return 0;
}

static void
ts_dealloc(TSObject *ts)
{
    if (cur_ts == ts)
        cur_ts = NULL;
    PyObject_GC_UnTrack(ts);
    if (ts->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)ts);
    ts_clear_refs(ts);
    PyMem_Free(ts->held);
    PyMem_Free(ts->seen);
    PyObject_GC_Del(ts);
}

static PyObject *
ts_held(TSObject *ts, PyObject *Py_UNUSED(ignored))
{
    /* [(lock, code, line, frame id, trylock), ...], oldest first */
    PyObject *list = PyList_New(ts->depth);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < ts->depth; i++) {
        Entry *e = &ts->held[i];
        int line = -1;
        if (e->code != NULL) {
#if PY_VERSION_HEX >= 0x030B0000
            line = e->where >= 0 ? PyCode_Addr2Line((PyCodeObject *)e->code, e->where) : -1;
#else
            line = e->where;
#endif
        }
        PyObject *t = Py_BuildValue("(OOiKO)", e->lock, e->code ? e->code : Py_None, line,
                                    (unsigned long long)e->frame,
                                    e->trylock ? Py_True : Py_False);
        if (t == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *
ts_forget(TSObject *ts, PyObject *Py_UNUSED(ignored))
{
    seen_clear(ts);
    Py_RETURN_NONE;
}

static PyObject *
ts_drop_all(TSObject *ts, PyObject *Py_UNUSED(ignored))
{
    /* After fork, in the child: this thread no longer exists. */
    Py_ssize_t depth = ts->depth;
    for (Py_ssize_t i = 0; i < depth; i++) {
        LockObject *lk = (LockObject *)ts->held[i].lock;
        if (lk->holder == ts) {
            lk->holder = NULL;
            Py_DECREF(ts);
        }
    }
    depth = ts->depth;
    ts->depth = 0;
    for (Py_ssize_t i = 0; i < depth; i++)
        entry_clear(&ts->held[i]);
    seen_clear(ts);
    Py_RETURN_NONE;
}

static PyObject *
ts_get_task(TSObject *ts, void *Py_UNUSED(closure))
{
    Py_INCREF(ts->task);
    return ts->task;
}

static int
ts_set_task(TSObject *ts, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL)
        value = Py_None;
    Py_INCREF(value);
    Py_SETREF(ts->task, value);
    return 0;
}

static PyObject *
ts_get_ident(TSObject *ts, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLong(ts->ident);
}

static PyObject *
ts_get_depth(TSObject *ts, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(ts->depth);
}

static PyObject *
ts_get_busy(TSObject *ts, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(ts->busy);
}

static int
ts_set_busy(TSObject *ts, PyObject *value, void *Py_UNUSED(closure))
{
    int b = value ? PyObject_IsTrue(value) : 0;
    if (b < 0)
        return -1;
    ts->busy = b;
    return 0;
}

static PyMethodDef ts_methods[] = {
    {"held", (PyCFunction)ts_held, METH_NOARGS,
     "The held-lock stack, oldest first: (lock, code, line, frame id, trylock)."},
    {"forget", (PyCFunction)ts_forget, METH_NOARGS,
     "Forget the chains seen: the next acquisitions go to the engine again."},
    {"drop_all", (PyCFunction)ts_drop_all, METH_NOARGS,
     "Empty the held stack (after fork, for the threads that are gone)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ts_getset[] = {
    {"task", (getter)ts_get_task, (setter)ts_set_task, "the recorder's task record", NULL},
    {"ident", (getter)ts_get_ident, NULL, "the thread's ident", NULL},
    {"depth", (getter)ts_get_depth, NULL, "number of held locks", NULL},
    {"busy", (getter)ts_get_busy, (setter)ts_set_busy, "inside lockgraph's bookkeeping", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TSType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "lockgraph.runtime._cfast.ThreadState",
    .tp_basicsize = sizeof(TSObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)ts_dealloc,
    .tp_traverse = (traverseproc)ts_traverse,
    .tp_clear = (inquiry)ts_clear_refs,
    .tp_weaklistoffset = offsetof(TSObject, weakreflist),
    .tp_methods = ts_methods,
    .tp_getset = ts_getset,
};

/* ------------------------------------------------------------ blocking */

static double
monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Acquire lk, like _thread's acquire_timed: timeout < 0 blocks forever, 0 tries. */
static PyLockStatus
acquire_timed(PyThread_type_lock lk, double timeout)
{
    PyLockStatus r = PyThread_acquire_lock_timed(lk, 0, 0);
    if (r == PY_LOCK_ACQUIRED || timeout == 0)
        return r;
    double deadline = timeout > 0 ? monotonic() + timeout : 0;
    do {
        PY_TIMEOUT_T us = -1;
        if (timeout > 0) {
            double remaining = deadline - monotonic();
            if (remaining <= 0)
                return PY_LOCK_FAILURE;
            us = (PY_TIMEOUT_T)(remaining * 1e6 + 0.999);
        }
        Py_BEGIN_ALLOW_THREADS
        r = PyThread_acquire_lock_timed(lk, us, 1);
        Py_END_ALLOW_THREADS
        if (r == PY_LOCK_INTR && Py_MakePendingCalls() < 0)
            return PY_LOCK_INTR;
    } while (r == PY_LOCK_INTR);
    return r;
}

static int
parse_acquire(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, int *blocking,
              double *timeout)
{
    PyObject *b = NULL, *t = NULL;
    if (nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "acquire() takes at most 2 arguments");
        return -1;
    }
    if (nargs >= 1)
        b = args[0];
    if (nargs >= 2)
        t = args[1];
    if (kwnames != NULL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (PyUnicode_CompareWithASCIIString(k, "blocking") == 0 && b == NULL)
                b = args[nargs + i];
            else if (PyUnicode_CompareWithASCIIString(k, "timeout") == 0 && t == NULL)
                t = args[nargs + i];
            else {
                PyErr_Format(PyExc_TypeError, "acquire() got an unexpected keyword argument %R",
                             k);
                return -1;
            }
        }
    }
    *blocking = 1;
    *timeout = -1;
    if (b != NULL) {
        int v = PyObject_IsTrue(b);
        if (v < 0)
            return -1;
        *blocking = v;
    }
    if (t != NULL) {
        double v = PyFloat_AsDouble(t);
        if (v == -1 && PyErr_Occurred())
            return -1;
        *timeout = v;
    }
    if (!*blocking && *timeout != -1) {
        PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
        return -1;
    }
    if (*timeout < 0 && *timeout != -1) {
        PyErr_SetString(PyExc_ValueError, "timeout value must be a non-negative number");
        return -1;
    }
    if (*timeout > (double)PY_TIMEOUT_MAX / 1e6) {
        PyErr_SetString(PyExc_OverflowError, "timeout value is too large");
        return -1;
    }
    if (!*blocking)
        *timeout = 0;
    return 0;
}

/* ------------------------------------------------------------ tracking */

/* Called before blocking on `self`: the fast path, or the hook on a miss.
 * Returns 1 if an entry was pushed, 0 if not tracked, -1 on error (the policy
 * raised). */
static int
track(LockObject *self, TSObject *ts, int trylock)
{
    uint64_t top = ts->depth ? ts->held[ts->depth - 1].hash : SEED;
    uint64_t h = chain_hash(top, self->uid, trylock);
    int self_deadlock = !self->reentrant && !trylock && self->holder == ts;
    if (self_deadlock || !seen_has(ts, h)) {
        if (hook_acquire == NULL)
            return 0;
        ts->busy = 1;
        PyObject *r = PyObject_CallFunctionObjArgs(hook_acquire, (PyObject *)self,
                                                   (PyObject *)ts,
                                                   trylock ? Py_True : Py_False, NULL);
        ts->busy = 0;
        if (r == NULL)
            return -1;
        int ok = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (ok < 0)
            return -1;
        if (ok && !self_deadlock)
            seen_add(ts, h);
    }
    if (ts_push(ts, (PyObject *)self, h, trylock) < 0) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

static void
set_holder(LockObject *self, TSObject *ts)
{
    Py_INCREF(ts);
    Py_XSETREF(self->holder, ts);
}

static void
untrack(LockObject *self, TSObject *ts)
{
    /* The lock was released: drop it from whichever stack holds it. */
    if (ts != NULL && ts_remove(ts, (PyObject *)self)) {
        Py_CLEAR(self->holder);
        return;
    }
    TSObject *holder = self->holder;
    if (holder != NULL) {
        self->holder = NULL;
        ts_remove(holder, (PyObject *)self);
        Py_DECREF(holder);
    }
}

/* The whole of an acquisition; returns 1 acquired, 0 not (timeout/try), -1 error. */
static int
do_acquire(LockObject *self, int blocking, double timeout)
{
    unsigned long me = 0;
    if (self->reentrant) {
        me = PyThread_get_thread_ident();
        if (self->count > 0 && self->owner == me) {
            if (self->count == ULONG_MAX) {
                PyErr_SetString(PyExc_OverflowError, "Internal lock count overflowed");
                return -1;
            }
            self->count++;
            return 1;
        }
    }
    TSObject *ts = NULL;
    int pushed = 0;
    if (timeout == 0)
        blocking = 0; /* acquire(timeout=0) never waits: a trylock */
    if (active) {
        ts = get_ts();
        if (ts != NULL && !ts->busy && blocking) {
            pushed = track(self, ts, 0);
            if (pushed < 0)
                return -1;
        }
    }
    PyLockStatus r = acquire_timed(self->lk, timeout);
    if (r == PY_LOCK_INTR) {
        if (pushed)
            ts_remove(ts, (PyObject *)self);
        return -1;
    }
    if (r != PY_LOCK_ACQUIRED) {
        if (pushed)
            ts_remove(ts, (PyObject *)self);
        return 0;
    }
    self->locked = 1;
    if (self->reentrant) {
        self->owner = me;
        self->count = 1;
    }
    if (!blocking && active && ts != NULL && !ts->busy) {
        /* a trylock that succeeded: held from now on, depends on nothing */
        pushed = track(self, ts, 1);
        if (pushed < 0) {
            self->locked = 0;
            self->owner = 0;
            self->count = 0;
            PyThread_release_lock(self->lk);
            return -1;
        }
    }
    if (pushed)
        set_holder(self, ts);
    return 1;
}

static void
do_release_final(LockObject *self)
{
    self->locked = 0;
    self->owner = 0;
    self->count = 0;
    PyThread_release_lock(self->lk);
    if (self->holder != NULL)
        untrack(self, cur_ts);
}

/* ------------------------------------------------------------ Lock */

/* Like _thread.lock, the types cannot be instantiated from Python: new_lock() and
 * new_rlock() make them. */
static PyObject *
lock_new(PyTypeObject *type)
{
    LockObject *self = PyObject_GC_New(LockObject, type);
    if (self == NULL)
        return NULL;
    self->lk = PyThread_allocate_lock();
    if (self->lk == NULL) {
        PyObject_GC_Del(self);
        PyErr_SetString(PyExc_RuntimeError, "can't allocate lock");
        return NULL;
    }
    self->locked = 0;
    self->reentrant = (type == &RLockType);
    self->owner = 0;
    self->count = 0;
    self->uid = next_uid++;
    self->holder = NULL;
    self->rec = Py_None;
    Py_INCREF(Py_None);
    self->weakreflist = NULL;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int
lock_traverse(LockObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->holder);
    Py_VISIT(self->rec);
    return 0;
}

static int
lock_clear(LockObject *self)
{
    Py_CLEAR(self->holder);
    Py_CLEAR(self->rec);
    return 0;
}

static void
lock_dealloc(LockObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->holder != NULL) /* freed while held: its entry goes too */
        ts_remove(self->holder, (PyObject *)self);
    lock_clear(self);
    if (self->lk) {
        if (self->locked)
            PyThread_release_lock(self->lk);
        PyThread_free_lock(self->lk);
    }
    PyObject_GC_Del(self);
}

static PyObject *
lock_acquire(LockObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int blocking;
    double timeout;
    if (parse_acquire(args, nargs, kwnames, &blocking, &timeout) < 0)
        return NULL;
    int r = do_acquire(self, blocking, timeout);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyObject *
lock_enter(LockObject *self, PyObject *Py_UNUSED(ignored))
{
    int r = do_acquire(self, 1, -1);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyObject *
lock_release(LockObject *self, PyObject *Py_UNUSED(ignored))
{
    if (!self->locked) {
        PyErr_SetString(PyExc_RuntimeError, "release unlocked lock");
        return NULL;
    }
    do_release_final(self);
    Py_RETURN_NONE;
}

static PyObject *
lock_exit(LockObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return lock_release(self, NULL);
}

static PyObject *
lock_locked(LockObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->locked);
}

static PyObject *
lock_at_fork_reinit(LockObject *self, PyObject *Py_UNUSED(ignored))
{
    /* Like _thread: a fresh lock; the old one may be in any state, so it leaks. */
    PyThread_type_lock n = PyThread_allocate_lock();
    if (n == NULL) {
        PyErr_SetString(PyExc_MemoryError, "can't allocate lock");
        return NULL;
    }
    self->lk = n;
    self->locked = 0;
    self->owner = 0;
    self->count = 0;
    if (self->holder != NULL)
        untrack(self, NULL);
    Py_RETURN_NONE;
}

static PyObject *
lock_repr(LockObject *self)
{
    if (self->reentrant)
        return PyUnicode_FromFormat("<%s lockgraph.RLock object owner=%lu count=%lu at %p>",
                                    self->count ? "locked" : "unlocked", self->owner,
                                    self->count, self);
    return PyUnicode_FromFormat("<%s lockgraph.Lock object at %p>",
                                self->locked ? "locked" : "unlocked", self);
}

static PyObject *
lock_get_rec(LockObject *self, void *Py_UNUSED(closure))
{
    Py_INCREF(self->rec);
    return self->rec;
}

static int
lock_set_rec(LockObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL)
        value = Py_None;
    Py_INCREF(value);
    Py_SETREF(self->rec, value);
    self->uid = next_uid++; /* a renamed lock starts new chains */
    return 0;
}

static PyObject *
lock_get_uid(LockObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLongLong(self->uid);
}

static PyGetSetDef lock_getset[] = {
    {"_lockgraph_rec", (getter)lock_get_rec, (setter)lock_set_rec,
     "lockgraph's record of this lock (class, name, engine handles)", NULL},
    {"_lockgraph_uid", (getter)lock_get_uid, NULL, "unique id, never reused", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef lock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))lock_acquire, METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool"},
    {"__enter__", (PyCFunction)lock_enter, METH_NOARGS, "acquire the lock"},
    {"release", (PyCFunction)lock_release, METH_NOARGS, "release the lock"},
    {"__exit__", (PyCFunction)(void (*)(void))lock_exit, METH_FASTCALL, "release the lock"},
    {"locked", (PyCFunction)lock_locked, METH_NOARGS, "whether the lock is held"},
    {"acquire_lock", (PyCFunction)(void (*)(void))lock_acquire, METH_FASTCALL | METH_KEYWORDS,
     "an alias of acquire()"},
    {"release_lock", (PyCFunction)lock_release, METH_NOARGS, "an alias of release()"},
    {"locked_lock", (PyCFunction)lock_locked, METH_NOARGS, "an alias of locked()"},
    {"_at_fork_reinit", (PyCFunction)lock_at_fork_reinit, METH_NOARGS,
     "make the lock new (in a child after fork)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "lockgraph.runtime._cfast.Lock",
    .tp_basicsize = sizeof(LockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_dealloc = (destructor)lock_dealloc,
    .tp_traverse = (traverseproc)lock_traverse,
    .tp_clear = (inquiry)lock_clear,
    .tp_repr = (reprfunc)lock_repr,
    .tp_weaklistoffset = offsetof(LockObject, weakreflist),
    .tp_methods = lock_methods,
    .tp_getset = lock_getset,
    .tp_doc = "A threading.Lock that reports its acquisitions to lockgraph.",
};

/* ------------------------------------------------------------ RLock */

static PyObject *
rlock_release(LockObject *self, PyObject *Py_UNUSED(ignored))
{
    unsigned long me = PyThread_get_thread_ident();
    if (self->count == 0 || self->owner != me) {
        PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
        return NULL;
    }
    if (--self->count > 0)
        Py_RETURN_NONE;
    do_release_final(self);
    Py_RETURN_NONE;
}

static PyObject *
rlock_exit(LockObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return rlock_release(self, NULL);
}

static PyObject *
rlock_is_owned(LockObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->count > 0 && self->owner == PyThread_get_thread_ident());
}

static PyObject *
rlock_release_save(LockObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->count == 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
        return NULL;
    }
    unsigned long count = self->count, owner = self->owner;
    do_release_final(self);
    return Py_BuildValue("(kk)", count, owner);
}

static PyObject *
rlock_acquire_restore(LockObject *self, PyObject *state)
{
    unsigned long count, owner;
    if (!PyArg_ParseTuple(state, "kk:_acquire_restore", &count, &owner))
        return NULL;
    int r = do_acquire(self, 1, -1);
    if (r < 0)
        return NULL;
    self->owner = owner;
    self->count = count;
    Py_RETURN_NONE;
}

static PyObject *
rlock_recursion_count(LockObject *self, PyObject *Py_UNUSED(ignored))
{
    unsigned long me = PyThread_get_thread_ident();
    return PyLong_FromUnsignedLong(self->owner == me ? self->count : 0);
}

static PyMethodDef rlock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))lock_acquire, METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool"},
    {"__enter__", (PyCFunction)lock_enter, METH_NOARGS, "acquire the lock"},
    {"release", (PyCFunction)rlock_release, METH_NOARGS, "release the lock"},
    {"__exit__", (PyCFunction)(void (*)(void))rlock_exit, METH_FASTCALL, "release the lock"},
    {"locked", (PyCFunction)lock_locked, METH_NOARGS, "whether the lock is held"},
    {"_is_owned", (PyCFunction)rlock_is_owned, METH_NOARGS, "held by the calling thread"},
    {"_release_save", (PyCFunction)rlock_release_save, METH_NOARGS, "for Condition.wait"},
    {"_acquire_restore", (PyCFunction)rlock_acquire_restore, METH_O, "for Condition.wait"},
    {"_recursion_count", (PyCFunction)rlock_recursion_count, METH_NOARGS,
     "the calling thread's recursion count"},
    {"_at_fork_reinit", (PyCFunction)lock_at_fork_reinit, METH_NOARGS,
     "make the lock new (in a child after fork)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RLockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "lockgraph.runtime._cfast.RLock",
    .tp_basicsize = sizeof(LockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_dealloc = (destructor)lock_dealloc,
    .tp_traverse = (traverseproc)lock_traverse,
    .tp_clear = (inquiry)lock_clear,
    .tp_repr = (reprfunc)lock_repr,
    .tp_weaklistoffset = offsetof(LockObject, weakreflist),
    .tp_methods = rlock_methods,
    .tp_getset = lock_getset,
    .tp_doc = "A threading.RLock that reports its acquisitions to lockgraph.",
};

/* ------------------------------------------------------------ module */

static PyObject *
mod_set_hook(PyObject *Py_UNUSED(m), PyObject *hook)
{
    if (hook == Py_None) {
        Py_CLEAR(hook_acquire);
    }
    else {
        Py_INCREF(hook);
        Py_XSETREF(hook_acquire, hook);
    }
    Py_RETURN_NONE;
}

static PyObject *
mod_set_skip_file(PyObject *Py_UNUSED(m), PyObject *filename)
{
    Py_INCREF(filename);
    Py_XSETREF(skip_file, filename);
    Py_RETURN_NONE;
}

static PyObject *
mod_set_active(PyObject *Py_UNUSED(m), PyObject *flag)
{
    int v = PyObject_IsTrue(flag);
    if (v < 0)
        return NULL;
    active = v;
    Py_RETURN_NONE;
}

static PyObject *
mod_current(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    TSObject *ts = get_ts();
    if (ts == NULL)
        Py_RETURN_NONE;
    Py_INCREF(ts);
    return (PyObject *)ts;
}

static PyObject *
mod_new_lock(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return lock_new(&LockType);
}

static PyObject *
mod_new_rlock(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return lock_new(&RLockType);
}

static PyMethodDef module_methods[] = {
    {"new_lock", mod_new_lock, METH_NOARGS, "a new Lock"},
    {"new_rlock", mod_new_rlock, METH_NOARGS, "a new RLock"},
    {"set_hook", mod_set_hook, METH_O, "set the miss hook: hook(lock, ts, trylock) -> bool"},
    {"set_active", mod_set_active, METH_O, "start or stop recording"},
    {"set_skip_file", mod_set_skip_file, METH_O,
     "the co_filename object of code whose frames are not acquisition sites"},
    {"current", mod_current, METH_NOARGS, "the calling thread's state (None if unavailable)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "lockgraph.runtime._cfast",
    "lockgraph's lock types and per-thread held stacks, in C.", -1, module_methods,
};

PyMODINIT_FUNC
PyInit__cfast(void)
{
    if (PyType_Ready(&TSType) < 0 || PyType_Ready(&LockType) < 0 ||
        PyType_Ready(&RLockType) < 0)
        return NULL;
    ts_key = PyUnicode_InternFromString("lockgraph.runtime._cfast.ThreadState");
    if (ts_key == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    Py_INCREF(&TSType);
    Py_INCREF(&LockType);
    Py_INCREF(&RLockType);
    if (PyModule_AddObject(m, "ThreadState", (PyObject *)&TSType) < 0 ||
        PyModule_AddObject(m, "Lock", (PyObject *)&LockType) < 0 ||
        PyModule_AddObject(m, "RLock", (PyObject *)&RLockType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
