/// How far ahead loops over a table's rows in a given order (a document's ids, a step's
/// touched rows) ask the CPU for a row (`folio_prefetch_row`). A bag model's table (100 MB)
/// is far larger than the caches, so nearly every row missed them and each loop waited on
/// memory row after row: asked for 8 rows ahead, the shipped bag pipeline trained 1.3-1.5x as
/// fast (bench/results/2026-12-04-row-prefetch-zen3.txt). Hints only: no value changes.
/// (Asking for a document's first rows at its first step as well measured slower.)
enum RowPrefetch {
    static let distance = 8
}
