/* The turns of dedupkit.trim.trim_box on a grey image, in C: the same boxes as trim._turns, to the pixel.

grey_turns gives the box of trim._turns from a histogram of each line, made only when a walk from an edge
reaches the line: its median, whether it is plain and the share of its pixels off a colour are then a few
lookups, so a photo whose edge lines end after a line or two costs a few microseconds instead of some sixty
numpy calls. A line's counts are kept for the next turn while the span it is measured over stays the same.
grey_edges gives trim._blended_edges. Colours are doubled medians (whole numbers), as in trim.py.

Built by setuptools as the optional extension dedupkit._trimwalk (setup.py); without a C compiler dedupkit
falls back to the numpy walk, which gives the same boxes (tests/test_trim.py).
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {                  /* the lines of a grey image: its rows, or its columns read as rows */
    const uint8_t *pixels;
    Py_ssize_t line_step, pixel_step;
} Grid;

typedef struct {                  /* one axis's measured lines */
    int64_t *doubled;             /* twice the line's median */
    char *plain, *done;
    Py_ssize_t span[2];           /* the span its lines were measured over */
} Axis;

typedef struct {
    double tolerance, max_outliers, max_band, edge_fraction, band_fraction;
    int64_t scratch[256];         /* a line's count of each level, all zeros between calls */
    int64_t colours[24];          /* the frames' colours found (doubled): at most two per axis and turn */
    int found;
} Walk;

static inline int level(const Grid *g, Py_ssize_t line, Py_ssize_t k)
{
    return g->pixels[line * g->line_step + k * g->pixel_step];
}

/* The largest whole number a whole distance may reach and still be within tolerance (infinite: any). */
static inline int64_t whole(double tolerance)
{
    double limit = floor(tolerance);
    return limit < (double)((int64_t)1 << 40) ? (int64_t)limit : (int64_t)1 << 40;
}

/* Measure a line: twice its median and whether it is plain. Gives up, leaving it unmeasured and returning 0,
   once more than max_outliers of its pixels p have |2p - colour| > far_tolerance. */
static int measure(Walk *s, const Grid *g, Axis *a, Py_ssize_t line, double doubled_tolerance, int64_t colour,
                   double far_tolerance)
{
    if (a->done[line])
        return 1;
    Py_ssize_t n = a->span[1] - a->span[0];
    int low = 255, high = 0;
    int64_t far = 0, far_limit = whole(far_tolerance);
    for (Py_ssize_t k = a->span[0]; k < a->span[1]; k++) {
        int v = level(g, line, k);
        s->scratch[v] += 1;
        if (v < low) low = v;
        if (v > high) high = v;
        if (llabs(2 * (int64_t)v - colour) > far_limit) {
            far += 1;
            if ((double)far / n > s->max_outliers) {
                memset(s->scratch + low, 0, (size_t)(high - low + 1) * sizeof(int64_t));
                return 0;
            }
        }
    }
    Py_ssize_t half = n / 2, seen = 0;
    int lower = -1, upper = -1;
    for (int v = low; v <= high; v++) {  /* the values at sorted positions half - 1 and half (np.median's) */
        seen += s->scratch[v];
        if (lower < 0 && seen > half - 1) lower = v;
        if (seen > half) { upper = v; break; }
    }
    int64_t middle = n % 2 == 0 ? lower + upper : 2 * upper;
    int64_t off = 0, limit = whole(doubled_tolerance);
    for (int v = low; v <= high; v++) {
        if (llabs(2 * (int64_t)v - middle) > limit) off += s->scratch[v];
        s->scratch[v] = 0;
    }
    a->doubled[line] = middle;
    a->plain[line] = (double)off / n <= s->max_outliers;
    a->done[line] = 1;
    return 1;
}

/* Pixels p of the line with |2p - colour| > doubled_tolerance, and the largest |2p - colour|. */
static int64_t off_colour(const Grid *g, const Axis *a, Py_ssize_t line, int64_t colour, double doubled_tolerance,
                          int64_t *largest)
{
    int64_t off = 0, most = 0, limit = whole(doubled_tolerance);
    for (Py_ssize_t k = a->span[0]; k < a->span[1]; k++) {
        int64_t far = llabs(2 * (int64_t)level(g, line, k) - colour);
        if (far > limit) off += 1;
        if (far > most) most = far;
    }
    if (largest) *largest = most;
    return off;
}

/* Whether the line is plain and its median within tolerance of colour (doubled). */
static int same(Walk *s, const Grid *g, Axis *a, Py_ssize_t line, int64_t colour)
{
    /* a plain line of this colour has at most its outliers further than twice the tolerance: most lines of the
       picture are told so before they are measured */
    if (!measure(s, g, a, line, 2 * s->tolerance, colour, 4 * s->tolerance))
        return 0;
    return a->plain[line] && llabs(a->doubled[line] - colour) <= 2 * s->tolerance;
}

/* trim._edge_run from line start walking by step over n lines: the run's length; *captioned if it holds a band. */
static Py_ssize_t edge_run(Walk *s, const Grid *g, Axis *a, Py_ssize_t start, int step, Py_ssize_t n,
                           Py_ssize_t band, int *captioned)
{
    int64_t colour = a->doubled[start];
    Py_ssize_t width = a->span[1] - a->span[0], run = 0;
    *captioned = 0;
    while (run < n && same(s, g, a, start + step * run, colour))
        run++;
    while (0 < run && run < n) {
        /* a caption band: lines mostly of the frame's colour, closed by a line of the frame within band; the first
           line before the closing one that is not so ends the search (as trim._edge_run's test of them all) */
        Py_ssize_t stop = run + band < n ? run + band : n, end = run;
        int mostly = 1;
        int64_t largest = 0;
        while (end < stop && !same(s, g, a, start + step * end, colour)) {
            int64_t far;
            int64_t off = off_colour(g, a, start + step * end, colour, 2 * s->tolerance, &far);
            if (!(1 - (double)off / width >= s->band_fraction)) { mostly = 0; break; }
            if (far > largest) largest = far;
            end++;
        }
        if (!mostly || end == stop)
            break;  /* not mostly of the frame's colour, or no line of the frame closes the band */
        if (largest <= 8 * s->tolerance)
            break;  /* only shades of the frame's colour (a sky, not text) */
        run = end;
        while (run < n && same(s, g, a, start + step * run, colour))
            run++;
        *captioned = 1;
    }
    if (0 < run && run < n) {  /* a frame ends at an edge: most of the next lines' pixels are off its colour */
        double after = 0.0;
        for (Py_ssize_t j = run; j < n && j < run + 2; j++) {
            double share = (double)off_colour(g, a, start + step * j, colour, 2 * s->tolerance, NULL) / width;
            if (share > after) after = share;
        }
        if (after < s->edge_fraction) { *captioned = 0; return 0; }
    }
    return run;
}

static int known(const Walk *s, int64_t colour)
{
    for (int i = 0; i < s->found; i++)
        if (llabs(colour - s->colours[i]) <= 2 * s->tolerance)
            return 1;
    return 0;
}

/* trim._cut_axis: of the lines [lines[0], lines[1]) measured over the axis's span, those to keep. */
static void cut_axis(Walk *s, const Grid *g, Axis *a, const Py_ssize_t lines[2], int first_turn, Py_ssize_t *first,
                     Py_ssize_t *last)
{
    Py_ssize_t n = lines[1] - lines[0], width = a->span[1] - a->span[0];
    Py_ssize_t top = lines[0], bottom = lines[1] - 1;
    *first = 0;
    *last = n;
    measure(s, g, a, top, 2 * s->tolerance, -1, INFINITY);
    measure(s, g, a, bottom, 2 * s->tolerance, -1, INFINITY);
    if (!a->plain[top] && !a->plain[bottom])
        return;
    Py_ssize_t band = (Py_ssize_t)(s->max_band * n);
    if (band < 1) band = 1;
    int head_captioned, tail_captioned;
    Py_ssize_t head = edge_run(s, g, a, top, 1, n, band, &head_captioned);
    Py_ssize_t tail = edge_run(s, g, a, bottom, -1, n, band, &tail_captioned);
    int64_t head_colour = a->doubled[top], tail_colour = a->doubled[bottom];
    /* a frame of one line must be plain at half the tolerance and outliers (trim._cut_axis) */
    if (head == 1 && (double)off_colour(g, a, top, head_colour, s->tolerance, NULL) / width > s->max_outliers / 2)
        head = 0, head_captioned = 0;
    if (tail == 1 && (double)off_colour(g, a, bottom, tail_colour, s->tolerance, NULL) / width > s->max_outliers / 2)
        tail = 0, tail_captioned = 0;
    if (head + tail >= n)  /* plain all over: leave it */
        return;
    int is_known = known(s, head_colour);
    if (head > 0 && ((first_turn && tail > 0) || head_captioned || is_known)) {
        *first = head;
        if (!is_known) s->colours[s->found++] = head_colour;
    }
    is_known = known(s, tail_colour);
    if (tail > 0 && ((first_turn && head > 0) || tail_captioned || is_known)) {
        *last = n - tail;
        if (!is_known) s->colours[s->found++] = tail_colour;
    }
}

static int grey_image(PyObject *array, Py_buffer *view, Py_ssize_t *h, Py_ssize_t *w)
{
    if (PyObject_GetBuffer(array, view, PyBUF_C_CONTIGUOUS | PyBUF_ND) < 0)
        return -1;
    if (view->ndim != 2 || view->itemsize != 1 || view->shape[0] < 1 || view->shape[1] < 1) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "expected a grey image: a C-contiguous uint8 array, rows x columns");
        return -1;
    }
    *h = view->shape[0];
    *w = view->shape[1];
    return 0;
}

static PyObject *grey_turns(PyObject *self, PyObject *args)
{
    PyObject *array;
    Walk s;
    memset(&s, 0, sizeof s);
    if (!PyArg_ParseTuple(args, "Oddddd", &array, &s.tolerance, &s.max_outliers, &s.max_band, &s.edge_fraction,
                          &s.band_fraction))
        return NULL;
    Py_buffer view;
    Py_ssize_t h, w;
    if (grey_image(array, &view, &h, &w) < 0)
        return NULL;
    Py_ssize_t most = h > w ? h : w;
    int64_t *doubled = malloc(2 * most * sizeof(int64_t));
    char *flags = calloc(4 * most, 1);
    if (!doubled || !flags) {
        free(doubled);
        free(flags);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Grid grids[2] = {{view.buf, w, 1}, {view.buf, 1, w}};  /* rows; columns as rows */
    Axis axes[2] = {{doubled, flags, flags + most, {-1, -1}}, {doubled + most, flags + 2 * most, flags + 3 * most, {-1, -1}}};
    Py_ssize_t box[4] = {0, h, 0, w};  /* top, bottom, left, right */
    for (int turn = 0; turn < 6; turn++) {
        Py_ssize_t before[4] = {box[0], box[1], box[2], box[3]};
        for (int axis = 0; axis < 2; axis++) {
            Py_ssize_t lines[2] = {box[2 * axis], box[2 * axis + 1]};
            Py_ssize_t span[2] = {box[2 - 2 * axis], box[3 - 2 * axis]};
            Axis *a = &axes[axis];
            if (a->span[0] != span[0] || a->span[1] != span[1]) {  /* measured over another span: count again */
                memset(a->done, 0, most);
                a->span[0] = span[0];
                a->span[1] = span[1];
            }
            Py_ssize_t first, last;
            cut_axis(&s, &grids[axis], a, lines, turn == 0, &first, &last);
            box[2 * axis] = lines[0] + first;
            box[2 * axis + 1] = lines[0] + last;
        }
        if (memcmp(box, before, sizeof box) == 0)
            break;
    }
    free(doubled);
    free(flags);
    PyBuffer_Release(&view);
    return Py_BuildValue("nnnn", box[0], box[1], box[2], box[3]);
}

/* np.median of the line over span, from its counts. */
static double median(const Grid *g, Py_ssize_t line, const Py_ssize_t span[2])
{
    int64_t scratch[256] = {0};
    for (Py_ssize_t k = span[0]; k < span[1]; k++)
        scratch[level(g, line, k)] += 1;
    Py_ssize_t n = span[1] - span[0], half = n / 2, seen = 0;
    int lower = -1, upper = -1;
    for (int v = 0; v < 256; v++) {
        seen += scratch[v];
        if (lower < 0 && seen > half - 1) lower = v;
        if (upper < 0 && seen > half) upper = v;
    }
    return n % 2 == 0 ? (lower + upper) / 2.0 : (double)upper;
}

/* trim._frame_share: how much of the line is frame's colour blended over the line inner, 0 to 1. The sums are of
   multiples of a quarter level, exact in floating point whatever their order, so the result is numpy's to the bit. */
static double frame_share(const Grid *g, const Py_ssize_t span[2], Py_ssize_t line, Py_ssize_t inner, double frame)
{
    double scale = 0.0, dot = 0.0;
    for (Py_ssize_t k = span[0]; k < span[1]; k++) {
        double towards = frame - level(g, inner, k);
        scale += towards * towards;
        dot += ((double)level(g, line, k) - level(g, inner, k)) * towards;
    }
    if (scale <= 1e-9)
        return 0.0;
    double share = dot / scale;
    return share < 0.0 ? 0.0 : share > 1.0 ? 1.0 : share;
}

/* trim._edge_position over n lines of the grid, each over span. */
static double edge_position(const Grid *g, Py_ssize_t n, const Py_ssize_t span[2], Py_ssize_t first_kept, int inward)
{
    Py_ssize_t cut = first_kept - inward;
    if (cut < 0 || cut >= n)
        return (double)first_kept;
    Py_ssize_t outer = 0 <= cut - inward && cut - inward < n ? cut - inward : cut;
    double frame = median(g, outer, span), position = (double)first_kept;
    if (outer != cut)
        position -= inward * (1 - frame_share(g, span, cut, first_kept, frame));
    return position + inward * frame_share(g, span, first_kept, first_kept + inward, frame);
}

static PyObject *grey_edges(PyObject *self, PyObject *args)
{
    PyObject *array;
    Py_ssize_t top, bottom, left, right, h, w;
    if (!PyArg_ParseTuple(args, "Onnnn", &array, &top, &bottom, &left, &right))
        return NULL;
    Py_buffer view;
    if (grey_image(array, &view, &h, &w) < 0)
        return NULL;
    if (top < 0 || left < 0 || bottom > h || right > w || top > bottom || left > right) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "the box is not inside the image");
        return NULL;
    }
    double sides[4] = {(double)top, (double)bottom, (double)left, (double)right};
    Py_ssize_t shortest = bottom - top < right - left ? bottom - top : right - left;
    if (shortest >= 3 && !(top == 0 && bottom == h && left == 0 && right == w)) {
        Grid rows = {view.buf, w, 1}, columns = {view.buf, 1, w};
        Py_ssize_t across[2] = {left, right}, down[2] = {top, bottom};
        sides[0] = edge_position(&rows, h, across, top, 1);
        sides[1] = edge_position(&rows, h, across, bottom - 1, -1) + 1;
        sides[2] = edge_position(&columns, w, down, left, 1);
        sides[3] = edge_position(&columns, w, down, right - 1, -1) + 1;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("dddd", sides[0], sides[1], sides[2], sides[3]);
}

static PyMethodDef methods[] = {
    {"grey_turns", grey_turns, METH_VARARGS,
     "grey_turns(pixels, tolerance, max_outliers, max_band, edge_fraction, band_fraction)\n--\n\n"
     "The box (top, bottom, left, right) of trim._turns for a grey image (uint8, rows x columns)."},
    {"grey_edges", grey_edges, METH_VARARGS,
     "grey_edges(pixels, top, bottom, left, right)\n--\n\n"
     "trim._blended_edges of a grey image (uint8): each cut side of the box, to a fraction of a pixel."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_trimwalk", "The trim's walk over a grey image, in C.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__trimwalk(void)
{
    return PyModule_Create(&module);
}
