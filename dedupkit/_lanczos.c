/* LANCZOS (a = 3) weights that shrink a part [low, high] of n_in samples to n_out: dedupkit.fastpath._box_weights.

The fast hashing path hashes a trimmed picture's box to a fraction of a pixel, so each trimmed photo needs weights of
its own; numpy makes them at about 50-75 us (two sines per weight and some twenty array passes), which is a
third of what a scan spends beside the decode. Here each weight costs a few multiplications: with x = a_k - b_i (a per
input sample, b per output), sin(pi x / 3) = sin(pi a_k / 3) cos(pi b_i / 3) - cos(pi a_k / 3) sin(pi b_i / 3), so
only n_in + n_out sines and cosines are taken, and sin(pi x) = s (3 - 4 s^2) with s = sin(pi x / 3). The weights agree
with numpy's np.sinc(x) * np.sinc(x / 3) within 1e-12 (tests/test_fastpath.py).

Built by setuptools as the optional extension dedupkit._lanczos (setup.py); without it dedupkit makes them in numpy.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static PyObject *box_weights(PyObject *self, PyObject *args)
{
    Py_ssize_t n_in, n_out;
    double low, high;
    if (!PyArg_ParseTuple(args, "nndd", &n_in, &n_out, &low, &high))
        return NULL;
    double scale = (high - low) / n_out, filter_scale = scale > 1.0 ? scale : 1.0, third = M_PI / 3.0;
    Py_ssize_t first = isfinite(low) && low > 0 ? (Py_ssize_t)floor(low) : 0;
    Py_ssize_t last = isfinite(high) && high < n_in ? (Py_ssize_t)ceil(high) : n_in;
    if (n_in < 1 || n_out < 1 || !(low < high) || first >= last) {
        PyErr_Format(PyExc_ValueError, "box_weights needs low < high inside 0..n_in and n_in, n_out >= 1, got "
                     "n_in=%zd, n_out=%zd, low=%R, high=%R", n_in, n_out, PyTuple_GET_ITEM(args, 2),
                     PyTuple_GET_ITEM(args, 3));
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, n_out * n_in * (Py_ssize_t)sizeof(double));
    double *sin_a = malloc(2 * (last - first) * sizeof(double));
    if (!out || !sin_a) {
        Py_XDECREF(out);
        free(sin_a);
        return PyErr_NoMemory();
    }
    double *cos_a = sin_a + (last - first);
    for (Py_ssize_t k = first; k < last; k++) {
        sin_a[k - first] = sin(third * ((k + 0.5 - low) / filter_scale));  /* from low: small angles, exact sines */
        cos_a[k - first] = cos(third * ((k + 0.5 - low) / filter_scale));
    }
    double *weights = (double *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n_out; i++) {
        double *row = weights + i * n_in, centre = low + (i + 0.5) * scale, b = (centre - low) / filter_scale;
        double sin_b = sin(third * b), cos_b = cos(third * b), total = 0.0;
        for (Py_ssize_t k = 0; k < n_in; k++)
            row[k] = 0.0;
        for (Py_ssize_t k = first; k < last; k++) {
            double x = (k + 0.5 - centre) / filter_scale, tap;
            if (fabs(x) >= 3.0)
                continue;
            if (fabs(x) < 1e-2) {  /* near 0 the difference of products loses digits: the kernel directly */
                tap = x == 0.0 ? 1.0 : sin(M_PI * x) * sin(third * x) / (M_PI * x * third * x);
            } else {
                double s = sin_a[k - first] * cos_b - cos_a[k - first] * sin_b;  /* sin(pi x / 3) */
                tap = 3.0 * s * s * (3.0 - 4.0 * s * s) / (M_PI * x * M_PI * x);
            }
            double cover = (k + 1 < high ? k + 1 : high) - (k > low ? k : low);
            row[k] = tap * cover;
            total += row[k];
        }
        for (Py_ssize_t k = first; k < last; k++)
            row[k] /= total;
    }
    free(sin_a);
    return out;
}

static PyMethodDef methods[] = {
    {"box_weights", box_weights, METH_VARARGS,
     "box_weights(n_in, n_out, low, high)\n--\n\n"
     "LANCZOS (a = 3) weights from the part [low, high] of n_in samples to n_out, as bytes of float64 "
     "(n_out rows of n_in): dedupkit.fastpath._box_weights."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lanczos",
                                    "LANCZOS weights of a box, for the fast hashing path.", -1, methods};

PyMODINIT_FUNC PyInit__lanczos(void)
{
    return PyModule_Create(&module);
}
