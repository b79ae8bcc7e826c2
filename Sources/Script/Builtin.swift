import Foundation
import Tensor

/// What a builtin parameter accepts. Arguments are checked (and converted, e.g. lists to tensors)
/// before the implementation runs, and a mismatch reads
/// `bad argument 'w' to 'quantize' (integer 2…8 expected, got "four")`.
public indirect enum ParamKind {
    case any
    case number
    /// An integral number, optionally within a closed range.
    case integer(ClosedRange<Int>? = nil)
    case string
    /// One of a fixed set of strings.
    case choice([String])
    case bool
    /// A tensor; numbers and (nested) lists of numbers are converted.
    case tensor
    case list
    case record
    case function
    /// A `ScriptObject` whose `typeName` is the given name ("model", "dataset", …).
    case object(String)
    /// `none` or the wrapped kind.
    case optional(ParamKind)
    /// Any of several kinds (first match wins).
    case oneOf([ParamKind])

    /// Text for "… expected": `integer 2…8`, `one of "a", "b"`.
    public var expected: String {
        switch self {
        case .any: return "any value"
        case .number: return "number"
        case .integer(let r?): return "integer \(r.lowerBound)…\(r.upperBound)"
        case .integer(nil): return "integer"
        case .string: return "string"
        case .choice(let cs): return "one of " + cs.map { "\"\($0)\"" }.joined(separator: ", ")
        case .bool: return "true or false"
        case .tensor: return "tensor (or number/list of numbers)"
        case .list: return "list"
        case .record: return "record"
        case .function: return "function"
        case .object(let t): return t
        case .optional(let k): return k.expected + " or none"
        case .oneOf(let ks): return ks.map(\.expected).joined(separator: " or ")
        }
    }

    /// Short type text for signatures: `w: int`, `mode: "a"|"b"`.
    public var short: String {
        switch self {
        case .any: return "any"
        case .number: return "num"
        case .integer: return "int"
        case .string: return "str"
        case .choice(let cs): return cs.map { "\"\($0)\"" }.joined(separator: "|")
        case .bool: return "bool"
        case .tensor: return "tensor"
        case .list: return "list"
        case .record: return "record"
        case .function: return "fn"
        case .object(let t): return t
        case .optional(let k): return k.short + "?"
        case .oneOf(let ks): return ks.map(\.short).joined(separator: "|")
        }
    }

    /// Checks and converts `v`; nil when it does not fit.
    public func accept(_ v: Value) -> Value? {
        switch (self, v) {
        case (.any, _): return v
        case (.number, .number): return v
        case (.number, .bool(let b)): return .number(b ? 1 : 0)
        case (.integer(let r), .number(let n)):
            guard n == n.rounded(), abs(n) < 1e15 else { return nil }
            if let r, !r.contains(Int(n)) { return nil }
            return v
        case (.string, .string): return v
        case (.choice(let cs), .string(let s)): return cs.contains(s) ? v : nil
        case (.bool, .bool): return v
        case (.tensor, .tensor): return v
        case (.tensor, .number(let n)): return .tensor(Tensor(scalar: Float(n)))
        case (.tensor, .list): return (try? tensorFromValue(v)).map { .tensor($0) }
        case (.list, .list): return v
        case (.record, .record): return v
        case (.function, .function), (.function, .builtin): return v
        case (.object(let t), .object(let o)): return o.typeName == t ? v : nil
        case (.optional, .nothing): return v
        case (.optional(let k), _): return k.accept(v)
        case (.oneOf(let ks), _):
            for k in ks { if let r = k.accept(v) { return r } }
            return nil
        default: return nil
        }
    }
}

/// A declared builtin parameter. `defaultValue == nil` means the argument is required.
public struct Param {
    public let name: String
    public let kind: ParamKind
    public let defaultValue: Value?
    public let help: String
    /// Collects all remaining positional arguments into a list (like `print(a, b, c)`).
    public let variadic: Bool

    public init(_ name: String, _ kind: ParamKind = .any, default defaultValue: Value? = nil, help: String = "", variadic: Bool = false) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
        self.variadic = variadic
    }
}

/// A function implemented in Swift and registered in one of the area tables.
public final class Builtin {
    public let name: String
    public internal(set) var area: String
    public let summary: String
    public let help: String
    /// Runnable example code; the test suite runs every example (with `# expect:` lines checked).
    public let example: String
    public let params: [Param]
    public let impl: (Args) throws -> Value
    /// For a method or `x.f(…)` call: the receiver, passed as the first argument.
    public let boundTo: Value?
    let explicitSignature: String?

    public init(name: String, signature: String? = nil, summary: String, help: String = "", example: String,
                params: [Param], impl: @escaping (Args) throws -> Value) {
        self.name = name
        self.area = ""
        self.explicitSignature = signature
        self.summary = summary
        self.help = help
        self.example = example
        self.params = params
        self.impl = impl
        self.boundTo = nil
    }

    init(copy b: Builtin, boundTo: Value) {
        name = b.name; area = b.area; explicitSignature = b.explicitSignature; summary = b.summary
        help = b.help; example = b.example; params = b.params; impl = b.impl
        self.boundTo = boundTo
    }

    /// A method of a `ScriptObject` (e.g. `table.add`), documented by the object rather than a table.
    public static func method(_ name: String, summary: String, params: [Param], impl: @escaping (Args) throws -> Value) -> Value {
        .builtin(Builtin(name: name, summary: summary, example: "", params: params, impl: impl))
    }

    /// This builtin with `receiver` as its first argument (`x.sum()` means `sum(x)`).
    public func bound(to receiver: Value) -> Builtin { Builtin(copy: self, boundTo: receiver) }

    /// `name(a: tensor, axis: int? = none)`, generated from the parameters unless given.
    public var signature: String {
        if let s = explicitSignature { return s }
        let ps = params.map { p -> String in
            var s = (p.variadic ? "…" : "") + p.name + ": " + p.kind.short
            if let d = p.defaultValue { s += " = " + d.repr }
            return s
        }
        return "\(name)(" + ps.joined(separator: ", ") + ")"
    }
}

/// The documentation and parameters of one builtin, written beside the function that implements
/// it; an area's table pairs each name with its spec and function (`Builtin("zeros", zerosSpec, zeros)`).
public struct BuiltinSpec {
    public let signature: String?
    public let summary: String
    public let help: String
    /// Runnable example code; the test suite runs every example (with `# expect:` lines checked).
    public let example: String
    public let params: [Param]

    public init(signature: String? = nil, summary: String, help: String = "", example: String, params: [Param]) {
        self.signature = signature
        self.summary = summary
        self.help = help
        self.example = example
        self.params = params
    }
}

extension Builtin {
    /// One line of an area's table: the builtin `name`, its spec, and the function that runs it.
    public convenience init(_ name: String, _ spec: BuiltinSpec, _ impl: @escaping (Args) throws -> Value) {
        self.init(name: name, signature: spec.signature, summary: spec.summary, help: spec.help, example: spec.example,
                  params: spec.params, impl: impl)
    }
}

/// The checked arguments of one builtin call, by parameter name.
public struct Args {
    public let builtin: Builtin
    public let values: [String: Value]
    /// Positional arguments collected by a variadic parameter.
    public let rest: [Value]
    public let interpreter: Interpreter
    public let pos: SourcePos

    public func value(_ name: String) throws -> Value {
        guard let v = values[name] else { throw ScriptError("internal: '\(builtin.name)' has no parameter '\(name)'") }
        return v
    }
    public func isNone(_ name: String) -> Bool { if case .nothing? = values[name] { return true }; return values[name] == nil }
    public func number(_ name: String) throws -> Double {
        guard case .number(let n) = try value(name) else { throw mismatch(name, "number") }
        return n
    }
    public func float(_ name: String) throws -> Float { Float(try number(name)) }
    public func int(_ name: String) throws -> Int {
        let n = try number(name)
        guard n == n.rounded(), abs(n) < 1e15 else { throw mismatch(name, "integer") }
        return Int(n)
    }
    public func string(_ name: String) throws -> String {
        guard case .string(let s) = try value(name) else { throw mismatch(name, "string") }
        return s
    }
    public func bool(_ name: String) throws -> Bool {
        guard case .bool(let b) = try value(name) else { throw mismatch(name, "true or false") }
        return b
    }
    public func tensor(_ name: String) throws -> Tensor {
        let v = try value(name)
        if case .tensor(let t) = v { return t }
        if let t = try? tensorFromValue(v) { return t }
        throw mismatch(name, "tensor")
    }
    public func list(_ name: String) throws -> [Value] {
        guard case .list(let l) = try value(name) else { throw mismatch(name, "list") }
        return l.items
    }
    /// A list of integers (shapes, axes).
    public func ints(_ name: String) throws -> [Int] {
        let v = try value(name)
        if case .number = v { return [try int(name)] }
        return try list(name).map { item in
            guard case .number(let n) = item, n == n.rounded(), abs(n) < 1e15 else { throw mismatch(name, "list of integers") }
            return Int(n)
        }
    }
    /// An axis of a tensor of `rank` axes (negative counts from the end), checked and normalized:
    /// one validator for every axis argument. `extra` admits that many positions past the last
    /// axis (`stack` inserts a new one).
    public func axis(_ name: String, rank: Int, extra: Int = 0) throws -> Int {
        let v = try int(name), n = rank + extra
        let a = v < 0 ? v + n : v
        guard (0..<Swift.max(n, 1)).contains(a) else {
            throw bad(name, "axis \(-Swift.max(n, 1))…\(Swift.max(n, 1) - 1) expected for a tensor of rank \(rank), got \(v)")
        }
        return a
    }

    /// A list of strings (patterns, names).
    public func strings(_ name: String) throws -> [String] {
        try list(name).map { item in
            guard case .string(let s) = item else { throw mismatch(name, "list of strings") }
            return s
        }
    }
    public func object<T>(_ name: String, as type: T.Type) throws -> T {
        guard case .object(let o) = try value(name), let t = o as? T else { throw mismatch(name, "\(T.self)") }
        return t
    }
    /// Calls a function value (user `fn` or builtin) with positional arguments.
    public func call(_ f: Value, _ arguments: [Value]) throws -> Value {
        try interpreter.callValue(f, arguments, at: pos)
    }
    /// Error for an argument that passed the declared kind but is still wrong (e.g. shape mismatch).
    public func bad(_ name: String, _ message: String) -> ScriptError {
        ScriptError("bad argument '\(name)' to '\(builtin.name)' (\(message))")
    }
    func mismatch(_ name: String, _ expected: String) -> ScriptError {
        bad(name, "\(expected) expected, got \((values[name] ?? .nothing).brief)")
    }
}

/// Converts numbers and nested lists of numbers (rectangular) to a tensor.
public func tensorFromValue(_ v: Value) throws -> Tensor {
    switch v {
    case .tensor(let t): return t
    case .number(let n): return Tensor(scalar: Float(n))
    case .bool(let b): return Tensor(scalar: b ? 1 : 0)
    case .list:
        var shape: [Int] = []
        var flat: [Float] = []
        func walk(_ v: Value, _ depth: Int) throws {
            guard depth < 32 else { throw ScriptError("lists nested too deeply to make a tensor") }
            switch v {
            case .list(let l):
                if depth == shape.count { shape.append(l.items.count) } else if depth > shape.count || shape[depth] != l.items.count {
                    throw ScriptError("nested lists must be rectangular to make a tensor")
                }
                for x in l.items { try walk(x, depth + 1) }
            case .number(let n):
                guard depth == shape.count else { throw ScriptError("nested lists must be rectangular to make a tensor") }
                flat.append(Float(n))
            case .bool(let b):
                guard depth == shape.count else { throw ScriptError("nested lists must be rectangular to make a tensor") }
                flat.append(b ? 1 : 0)
            case .tensor(let t) where t.count == 1 && depth == shape.count:
                flat.append(t.ptr[0])
            default:
                throw ScriptError("a tensor can only be made from numbers, got \(v.brief)")
            }
        }
        try walk(v, 0)
        // A list ending in empty lists may leave `shape` longer than the data depth; fix count.
        guard shape.reduce(1, *) == flat.count else { throw ScriptError("nested lists must be rectangular to make a tensor") }
        return try Tensor(shape: shape, flat)
    default:
        throw ScriptError("cannot make a tensor from \(v.brief)")
    }
}

/// The builtin tables, one per area. Each area adds its table with
/// `Builtins.register(area: "model", ModelArea.builtins)` from an installer listed in
/// `Builtins.installers` (Builtins+Areas.swift).
public enum Builtins {
    /// Areas in documentation order.
    public static let areaOrder = ["tensor", "model", "data", "loss", "quant", "synthesis", "plot", "runtime"]

    nonisolated(unsafe) static var table: [String: Builtin] = [:]
    static let lock = NSLock()

    /// Adds the builtins of `area`. A name registered twice is a programming error, reported at
    /// once (the tables are read at the first lookup, so every test run meets it).
    public static func register(area: String, _ list: [Builtin]) {
        lock.lock(); defer { lock.unlock() }
        for b in list {
            if let old = table[b.name] {
                preconditionFailure("builtin '\(b.name)' is registered twice (areas '\(old.area)' and '\(area)')")
            }
            b.area = area
            table[b.name] = b
        }
    }

    /// Runs every installer exactly once. A static `let` is initialised under the runtime's
    /// once-lock: a second thread that asks meanwhile waits for the whole table, never sees half.
    static let installed: Void = { for install in installers { install() } }()

    static func ensureLoaded() { _ = installed }

    public static func lookup(_ name: String) -> Builtin? {
        ensureLoaded()
        lock.lock(); defer { lock.unlock() }
        return table[name]
    }

    /// Every builtin, grouped by area (in `areaOrder`, unknown areas last) and sorted by name.
    public static var all: [Builtin] {
        ensureLoaded()
        lock.lock(); defer { lock.unlock() }
        func rank(_ a: String) -> Int { areaOrder.firstIndex(of: a) ?? areaOrder.count }
        return table.values.sorted { (rank($0.area), $0.area, $0.name) < (rank($1.area), $1.area, $1.name) }
    }

    public static var names: [String] { all.map(\.name) }
}
