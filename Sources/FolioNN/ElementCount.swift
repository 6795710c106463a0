/// The number of values a tensor of `shape` holds, or nil when a dimension is below
/// `smallestDimension` or the product overflows or passes `limit`: for shapes that come from
/// outside (a safetensors header, a model description), where any of those is a mistake to
/// refuse, not a size to allocate.
func elementCount(of shape: [Int], smallestDimension: Int, atMost limit: Int) -> Int? {
    shape.reduce(Optional(1)) { product, dimension in
        guard let product, dimension >= smallestDimension else { return nil }
        let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
        return overflow || result > limit ? nil : result
    }
}
