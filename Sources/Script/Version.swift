/// Version of the tool. `code` goes into every cache key, so bump it when a cached computation's
/// results change meaning (old entries are then never reused).
public enum Version {
    public static let string = "0.1.0"
    public static let code = "sardfq-\(string)-cache1"
}
