/// `x % divisor` for any 64-bit `x` by multiplications instead of a division (Lemire, Kaser
/// and Kurz, "Faster Remainder by Direct Computation", 2019: with a 128-bit reciprocal the
/// remainder is exact for every 64-bit numerator and divisor). Why: the n-gram hashing's
/// remainder by the bucket count, a `div` per n-gram, was two fifths of the expansion's time.
/// The plain `%` is its reference twin in the tests.
public struct Remainder: Sendable {
    public let divisor: UInt64
    /// ceil(2^128 / divisor), as high and low 64-bit halves (0 for a divisor of 1, whose
    /// remainders are all 0 and come out so).
    @usableFromInline let reciprocalHigh: UInt64
    @usableFromInline let reciprocalLow: UInt64

    public init(_ divisor: UInt64) {
        precondition(divisor > 0, "a remainder by 0")
        self.divisor = divisor
        // (2^128 - 1) / divisor + 1, the 128-bit dividend's halves divided in turn.
        let high = UInt64.max / divisor
        let low = divisor.dividingFullWidth((high: UInt64.max % divisor, low: UInt64.max)).quotient
        let (sum, carry) = low.addingReportingOverflow(1)
        (reciprocalHigh, reciprocalLow) = (high &+ (carry ? 1 : 0), sum)
    }

    /// `x % divisor`: the fraction x / divisor as 128 bits (reciprocal * x, wrapping), times
    /// the divisor, keeps the remainder in the top 64 bits.
    @inlinable @inline(__always)
    public func of(_ x: UInt64) -> UInt64 {
        let (productHigh, fractionLow) = reciprocalLow.multipliedFullWidth(by: x)
        let fractionHigh = productHigh &+ reciprocalHigh &* x
        let carryIn = fractionLow.multipliedFullWidth(by: divisor).high
        let (top, bottom) = fractionHigh.multipliedFullWidth(by: divisor)
        return top &+ (bottom.addingReportingOverflow(carryIn).overflow ? 1 : 0)
    }
}
