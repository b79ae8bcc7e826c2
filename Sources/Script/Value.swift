import Foundation
import Tensor

/// Domain objects (models, datasets, image sets, quantized models, tables, figures) plug into the
/// language through this protocol, so other areas add value types without touching `Value`.
///
/// Methods are members that return `.builtin(...)` values closing over `self`
/// (see `Builtin.method`); `rows.add([1, 2])` looks up `add` and calls it.
public protocol ScriptObject: AnyObject {
    /// Shown by `type(x)` and in error messages ("model", "table", …).
    var typeName: String { get }
    /// Names listed by tab completion and `help(x)`.
    var memberNames: [String] { get }
    /// The value of `x.name`, or nil when there is no such member.
    func member(_ name: String) throws -> Value?
    /// What the REPL prints for the value (may span several lines, e.g. a table).
    var description: String { get }
}

extension ScriptObject {
    public var memberNames: [String] { [] }
    public func member(_ name: String) throws -> Value? { nil }
}

/// Objects that `save(x, "path")` can write. Implementations write the bytes; `save` makes the write
/// atomic, puts it under `--out`, and adds the provenance sidecar.
public protocol ScriptSavable: ScriptObject {
    /// File extensions accepted, e.g. ["md", "tsv"]; the first is used when the path has none.
    var saveExtensions: [String] { get }
    /// The file contents for `path` (its extension picks the format).
    func serialized(for path: String) throws -> Data
}

/// A mutable list shared by reference (like Python's list).
public final class ListRef {
    public var items: [Value]
    public init(_ items: [Value]) { self.items = items }
}

/// A record (`{name: "x", acc: 0.7}`): fields in insertion order, shared by reference.
public final class RecordRef {
    public private(set) var keys: [String] = []
    public private(set) var fields: [String: Value] = [:]
    public init(_ pairs: [(String, Value)] = []) { for (k, v) in pairs { self[k] = v } }
    public subscript(key: String) -> Value? {
        get { fields[key] }
        set {
            if fields[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            fields[key] = newValue
        }
    }
}

/// A user function: its declaration and the scope it was defined in.
public final class Closure {
    public let decl: FunctionDecl
    let env: Environment
    init(decl: FunctionDecl, env: Environment) {
        self.decl = decl
        self.env = env
    }
}

/// Every value of the language.
public enum Value {
    /// The `none` of the language (named so it is never confused with `Optional.none`).
    case nothing
    case number(Double)
    case string(String)
    case bool(Bool)
    case list(ListRef)
    case record(RecordRef)
    case tensor(Tensor)
    case function(Closure)
    case builtin(Builtin)
    case object(ScriptObject)

    public static func list(_ items: [Value]) -> Value { .list(ListRef(items)) }
    public static func int(_ i: Int) -> Value { .number(Double(i)) }

    /// Short type name used in messages and by `type(x)`.
    public var typeName: String {
        switch self {
        case .nothing: return "none"
        case .number: return "number"
        case .string: return "string"
        case .bool: return "bool"
        case .list: return "list"
        case .record: return "record"
        case .tensor: return "tensor"
        case .function, .builtin: return "function"
        case .object(let o): return o.typeName
        }
    }

    /// Truthiness for `if`/`while`/`and`/`or`: only `false` and `none` are false… plus 0, "" and [],
    /// like Python, because recipe authors expect it.
    public var isTruthy: Bool {
        switch self {
        case .nothing: return false
        case .bool(let b): return b
        case .number(let n): return n != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.items.isEmpty
        case .record(let r): return !r.keys.isEmpty
        default: return true
        }
    }

    /// How a value appears inside messages ("four" quoted, lists abbreviated).
    public var brief: String {
        switch self {
        case .string(let s): return Value.quote(s.count > 40 ? String(s.prefix(40)) + "…" : s)
        case .list(let l) where l.items.count > 6: return "a list of \(l.items.count) values"
        case .tensor(let t): return "a tensor of shape \(shapeString(t.shape))"
        case .function(let c): return "function '\(c.decl.name)'"
        case .builtin(let b): return "function '\(b.name)'"
        case .object(let o): return "a \(o.typeName)"
        default: return repr
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(c)
            }
        }
        return out + "\""
    }

    /// The text `print` writes and `{x}` interpolates (strings unquoted).
    public var display: String {
        if case .string(let s) = self { return s }
        return repr
    }

    /// The text the REPL shows (strings quoted, so `"1"` and `1` differ).
    public var repr: String { repr(depth: 0) }

    /// Nesting deeper than this prints as `…` (a list may contain itself).
    static let maxPrintDepth = 24

    func repr(depth: Int) -> String {
        if depth > Value.maxPrintDepth { return "…" }
        switch self {
        case .nothing: return "none"
        case .number(let n): return Value.formatNumber(n)
        case .string(let s): return Value.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .list(let l): return "[" + l.items.map { $0.repr(depth: depth + 1) }.joined(separator: ", ") + "]"
        case .record(let r):
            return "{" + r.keys.map { "\($0): \(r.fields[$0]!.repr(depth: depth + 1))" }.joined(separator: ", ") + "}"
        case .tensor(let t): return t.description
        case .function(let c):
            return "fn \(c.decl.name)(" + c.decl.params.map(\.name).joined(separator: ", ") + ")"
        case .builtin(let b): return "builtin \(b.signature)"
        case .object(let o): return o.description
        }
    }

    /// Integers print without a decimal point; other numbers with up to 10 significant digits.
    public static func formatNumber(_ n: Double) -> String {
        if n.isNaN { return "nan" }
        if n.isInfinite { return n > 0 ? "inf" : "-inf" }
        if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
        var s = String(format: "%.10g", n)
        if s.contains("e") { return s }
        if s.contains(".") { while s.hasSuffix("0") { s.removeLast() } }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}

/// Structural equality used by `==`: numbers, strings, booleans, lists and records compare by value,
/// tensors by shape and values, functions and objects by identity.
public func valuesEqual(_ a: Value, _ b: Value) -> Bool {
    // Iterative, so nesting depth is bounded by memory, not the stack; a pair of containers already
    // under comparison counts as equal (structures that refer to themselves compare as far as they differ).
    var work = [(a, b)]
    var seen = Set<[ObjectIdentifier]>()
    while let (x, y) = work.popLast() {
        switch (x, y) {
        case (.list(let l), .list(let r)):
            if l === r || !seen.insert([ObjectIdentifier(l), ObjectIdentifier(r)]).inserted { continue }
            guard l.items.count == r.items.count else { return false }
            work.append(contentsOf: zip(l.items, r.items))
        case (.record(let l), .record(let r)):
            if l === r || !seen.insert([ObjectIdentifier(l), ObjectIdentifier(r)]).inserted { continue }
            guard l.keys.count == r.keys.count else { return false }
            for k in l.keys {
                guard let rv = r[k] else { return false }
                work.append((l[k]!, rv))
            }
        default:
            if !scalarsEqual(x, y) { return false }
        }
    }
    return true
}

/// `==` on everything but lists and records.
func scalarsEqual(_ a: Value, _ b: Value) -> Bool {
    switch (a, b) {
    case (.nothing, .nothing): return true
    case (.number(let x), .number(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.tensor(let x), .tensor(let y)): return x === y || (x.shape == y.shape && x.array == y.array)
    case (.function(let x), .function(let y)): return x === y
    case (.builtin(let x), .builtin(let y)): return x.name == y.name && x.boundTo == nil && y.boundTo == nil
    case (.object(let x), .object(let y)): return x === y
    default: return false
    }
}

/// A Python-style format spec used in interpolation: `{x:.3f}`, `{x:>8}`, `{acc:.1%}`, `{x:.2e}`.
public struct NumberFormat {
    var align: Character? = nil
    var width = 0
    var precision: Int? = nil
    var type: Character? = nil

    public init?(spec: String) {
        var s = Substring(spec)
        guard !s.isEmpty else { return nil }
        if let c = s.first, "<>^".contains(c) { align = c; s = s.dropFirst() }
        let w = s.prefix { $0.isASCII && $0.isNumber }
        if !w.isEmpty {
            guard let wv = Int(w), wv <= NumberFormat.maxWidth else { return nil }
            width = wv; s = s.dropFirst(w.count)
        }
        if s.first == "." {
            s = s.dropFirst()
            let p = s.prefix { $0.isASCII && $0.isNumber }
            guard !p.isEmpty, let pv = Int(p), pv <= NumberFormat.maxPrecision else { return nil }
            precision = pv
            s = s.dropFirst(p.count)
        }
        if let c = s.first, "fe%g".contains(c) { type = c; s = s.dropFirst() }
        guard s.isEmpty else { return nil }
    }

    /// The widest and most precise formats accepted (a wider one is an error, not ignored).
    public static let maxWidth = 200, maxPrecision = 30

    /// Why `spec`, which has the shape of a format (`[<>^]digits[.digits][f|e|%|g]`), is refused;
    /// nil when it is a valid format or no format at all (then the `:` is part of the expression).
    public static func problem(spec: String) -> String? {
        guard NumberFormat(spec: spec) == nil,
              spec.range(of: #"^[<>^]?[0-9]*(\.[0-9]*)?[fe%g]?$"#, options: .regularExpression) != nil,
              spec.contains(where: \.isNumber) else { return nil }
        return "format '\(spec)' is out of range (width at most \(maxWidth), precision 0…\(maxPrecision))"
    }

    public func apply(_ v: Value) -> String {
        var text: String
        if case .number(let n) = v, precision != nil || type != nil {
            let p = precision ?? 6
            switch type {
            case "e": text = String(format: "%.\(p)e", n)
            case "%": text = String(format: "%.\(p)f%%", n * 100)
            case "g": text = String(format: "%.\(p)g", n)
            default: text = String(format: "%.\(p)f", n)
            }
        } else {
            text = v.display
        }
        let pad = width - text.count
        guard pad > 0 else { return text }
        let isNumber: Bool = { if case .number = v { return true }; return false }()
        switch align ?? (isNumber ? ">" : "<") {
        case ">": return String(repeating: " ", count: pad) + text
        case "^": return String(repeating: " ", count: pad / 2) + text + String(repeating: " ", count: pad - pad / 2)
        default: return text + String(repeating: " ", count: pad)
        }
    }
}
