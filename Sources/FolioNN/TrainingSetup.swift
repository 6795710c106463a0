/// What a program that trains or predicts with FolioNN (or FolioPipeline) does once at
/// start-up, as the `folio` command does:
/// - OpenBLAS single-threaded: the LSTM's lanes and the data stages' workers are the
///   parallelism, and OpenBLAS threads would spin beside them (DESIGN.md section 8);
/// - freed training buffers kept for reuse (``FreedMemoryReuse``): a training step frees
///   and allocates the same large buffers again, and faulting them in anew each time cost
///   a third of a step at batch 256.
///
/// Both are settings of the process, not of a model (OpenBLAS and the C allocator have one
/// each), which is why they are a call of their own; everything else (threads, kernels,
/// failpoints) is a property of the object that uses it.
public func configureForTraining() {
    Gemm.setThreads(1)
    FreedMemoryReuse.enable()
}
