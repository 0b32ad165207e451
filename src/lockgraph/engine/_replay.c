/*
 * lockgraph.engine._replay: the optional C version of Engine.replay().
 *
 * It runs the same loop as the pure-Python Engine.replay() in core.py, with the
 * same fast paths for acquire and release, and calls back into the engine's
 * Python methods for everything else (a new line, a chain never seen, an
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

static PyObject *
replay(PyObject *module, PyObject *args)
{
    PyObject *engine, *lines, *memo, *parse;
    Py_ssize_t first_line, memo_limit;
    if (!PyArg_ParseTuple(args, "OOO!Onn", &engine, &lines, &PyDict_Type, &memo, &parse,
                          &first_line, &memo_limit))
        return NULL;
    if (prepare() < 0)
        return NULL;
    long long index;
    if (get_index(engine, &index) < 0)
        return NULL;
    PyObject *it = PyObject_GetIter(lines);
    if (it == NULL)
        return NULL;
    Py_ssize_t lineno = first_line - 1;
    int failed = 0;
    PyObject *line;
    while (!failed && (line = PyIter_Next(it)) != NULL) {
        lineno++;
        PyObject *action = PyDict_GetItemWithError(memo, line); /* borrowed */
        if (action != NULL) {
            Py_INCREF(action);
        } else if (PyErr_Occurred()) {
            failed = 1;
        } else {
            if (set_index(engine, index) < 0) {
                failed = 1;
            } else {
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
     "replay(engine, lines, memo, parse, first_line, memo_limit) -> lines read\n\n"
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
