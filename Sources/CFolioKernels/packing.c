#include "packed_layout.h"

// C = [C] + [bias] + A * B with B packed once: the products of a recurrent layer multiply
// many small row blocks (a lane's rows at one step, one sequence's steps) by the same
// weight matrix. A general GEMM (OpenBLAS) packs that matrix again on every call, which
// cost the reference LSTM about a sixth of its training time; here it is packed once per
// forward or backward pass, in the layout of packed_layout.h.

size_t folio_packed_count(int k, int n) { return (size_t)folio_panels(n) * PANEL * (size_t)k; }

void folio_pack(const float *b, int k, int n, int ldb, int transposed, float *packed) {
    for (int p = 0; p < folio_panels(n); p++) {
        float *panel = packed + (size_t)p * PANEL * k;
        int columns = folio_panel_columns(n, p);
        for (int row = 0; row < k; row++) {
            float *to = panel + (size_t)row * PANEL;
            for (int j = 0; j < columns; j++) {
                int column = p * PANEL + j;
                to[j] = transposed ? b[(size_t)column * ldb + row] : b[(size_t)row * ldb + column];
            }
            for (int j = columns; j < PANEL; j++) to[j] = 0;
        }
    }
}
