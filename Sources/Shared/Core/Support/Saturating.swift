/// Sums of numbers that come from the network: they stop at the largest value instead of
/// trapping (a Swift overflow ends the process, and a stored huge value would end it again on
/// every read).
public enum Saturating {
    public static func add(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard overflow else { return sum }
        return b > 0 ? Int.max : Int.min
    }
}
