/// Sorting that allocates nothing, for buffers that fill a memory budget.
///
/// The standard library's sort is stable and allocates a temporary buffer of up to half
/// the elements; inside a budget that is memory we do not have. This is a plain
/// quicksort (median of three, insertion sort below 16 elements, recursion on the
/// smaller side so the stack stays O(log n)). Keys here are distinct, so stability does
/// not matter.
enum InPlaceSort {
    static func sort<Element>(_ buffer: UnsafeMutableBufferPointer<Element>, by less: (Element, Element) -> Bool) {
        var low = 0
        var high = buffer.count - 1
        while high - low >= 16 {
            let middle = low + (high - low) / 2
            if less(buffer[middle], buffer[low]) { buffer.swapAt(middle, low) }
            if less(buffer[high], buffer[low]) { buffer.swapAt(high, low) }
            if less(buffer[high], buffer[middle]) { buffer.swapAt(high, middle) }
            let pivot = buffer[middle]
            var i = low
            var j = high
            while i <= j {
                while less(buffer[i], pivot) { i += 1 }
                while less(pivot, buffer[j]) { j -= 1 }
                if i <= j {
                    buffer.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if j - low < high - i {
                if low < j { sort(UnsafeMutableBufferPointer(rebasing: buffer[low...j]), by: less) }
                low = i
            } else {
                if i < high { sort(UnsafeMutableBufferPointer(rebasing: buffer[i...high]), by: less) }
                high = j
            }
        }
        guard low < high else { return }
        for index in (low + 1)...high {
            let element = buffer[index]
            var position = index
            while position > low && less(element, buffer[position - 1]) {
                buffer[position] = buffer[position - 1]
                position -= 1
            }
            buffer[position] = element
        }
    }
}
