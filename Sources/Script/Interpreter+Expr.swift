import Foundation
import Tensor

extension Interpreter {
    func eval(_ e: Expr, _ env: Environment) throws -> Value {
        switch e.kind {
        case .number(let n): return .number(n)
        case .bool(let b): return .bool(b)
        case .none: return .nothing
        case .string(let parts):
            var s = ""
            for p in parts {
                switch p {
                case .text(let t): s += t
                case .expr(let x, let format):
                    let v = try eval(x, env)
                    if let format, let f = NumberFormat(spec: format) { s += f.apply(v) } else { s += v.display }
                }
            }
            return .string(s)
        case .name(let name):
            if let v = env.lookup(name) { return v }
            if let b = Builtins.lookup(name) { return .builtin(b) }
            var msg = "unknown name '\(shown(name))'"
            if let s = suggestion(for: name, among: env.allNames + Builtins.names) { msg += " (did you mean '\(s)'?)" }
            throw Diagnostic(msg, at: e.pos)
        case .list(let items):
            return .list(try items.map { try eval($0, env) })
        case .record(let fields):
            return .record(RecordRef(try fields.map { ($0.0, try eval($0.1, env)) }))
        case .unary(let op, let x):
            let v = try eval(x, env)
            if op == .not { return .bool(!v.isTruthy) }
            switch v {
            case .number(let n): return .number(-n)
            case .tensor(let t): return .tensor(-t)
            default: throw Diagnostic("cannot negate \(v.brief)", at: e.pos)
            }
        case .binary(let op, let l, let r):
            let a = try eval(l, env)
            let b = try eval(r, env)
            return try binary(op, a, b, at: e.pos)
        case .logical(let op, let l, let r):
            let a = try eval(l, env)
            if op == .and { return a.isTruthy ? try eval(r, env) : a }
            return a.isTruthy ? a : try eval(r, env)
        case .call(let calleeExpr, let args, _):
            let callee = try eval(calleeExpr, env)
            var positional: [(Value, SourcePos)] = []
            var keyword: [(String, Value, SourcePos)] = []
            for a in args {
                let v = try eval(a.value, env)
                if let l = a.label { keyword.append((l, v, a.pos)) } else { positional.append((v, a.pos)) }
            }
            return try call(callee, positional, keyword, at: calleeExpr.pos)
        case .member(let base, let name):
            return try member(try eval(base, env), name, at: e.pos)
        case .index(let base, let items):
            let b = try eval(base, env)
            return try index(b, try items.map { try evalIndex($0, env) }, at: e.pos)
        case .function(let decl):
            return .function(Closure(decl: decl, env: env))
        }
    }

    // MARK: operators

    func binary(_ op: BinaryOp, _ a: Value, _ b: Value, at pos: SourcePos) throws -> Value {
        switch op {
        case .equal: return .bool(valuesEqual(a, b))
        case .notEqual: return .bool(!valuesEqual(a, b))
        case .contains: return .bool(try contains(b, a, at: pos))
        default: break
        }
        switch (a, b) {
        case (.number(let x), .number(let y)):
            switch op {
            case .add: return .number(x + y)
            case .subtract: return .number(x - y)
            case .multiply: return .number(x * y)
            case .divide:
                guard y != 0 else { throw Diagnostic("division by zero", at: pos) }
                return .number(x / y)
            case .remainder:
                guard y != 0 else { throw Diagnostic("modulo by zero", at: pos) }
                return .number(x - y * (x / y).rounded(.down))
            case .less: return .bool(x < y)
            case .lessOrEqual: return .bool(x <= y)
            case .greater: return .bool(x > y)
            case .greaterOrEqual: return .bool(x >= y)
            default: break
            }
        case (.string(let x), .string(let y)):
            switch op {
            case .add:
                guard x.utf8.count + y.utf8.count <= Interpreter.maxLength else { throw Diagnostic("string too long", at: pos) }
                return .string(x + y)
            case .less: return .bool(x < y)
            case .lessOrEqual: return .bool(x <= y)
            case .greater: return .bool(x > y)
            case .greaterOrEqual: return .bool(x >= y)
            default: break
            }
        case (.list(let x), .list(let y)) where op == .add:
            guard x.items.count + y.items.count <= Interpreter.maxLength else { throw Diagnostic("list too long (more than \(Interpreter.maxLength) items)", at: pos) }
            return .list(x.items + y.items)
        case (.tensor, _), (_, .tensor):
            return try tensorBinary(op, a, b, at: pos)
        default: break
        }
        var msg = "cannot apply '\(op.rawValue)' to \(a.typeName) and \(b.typeName)"
        if op == .add, case .string = a { msg += " (use interpolation: \"…{x}\")" }
        if op == .add, case .string = b { msg += " (use interpolation: \"{x}…\")" }
        throw Diagnostic(msg, at: pos)
    }

    func tensorBinary(_ op: BinaryOp, _ a: Value, _ b: Value, at pos: SourcePos) throws -> Value {
        do {
            switch (a, b) {
            case (.tensor(let x), .number(let s)):
                let f = Float(s)
                switch op {
                case .add: return .tensor(x + f)
                case .subtract: return .tensor(x - f)
                case .multiply: return .tensor(x * f)
                case .divide:
                    guard f != 0 else { throw Diagnostic("division of a tensor by zero", at: pos) }
                    return .tensor(x / f)
                default: break
                }
            case (.number(let s), .tensor(let x)):
                let f = Float(s)
                switch op {
                case .add: return .tensor(f + x)
                case .subtract: return .tensor(f - x)
                case .multiply: return .tensor(f * x)
                case .divide: return .tensor(try Tensor.full(x.shape, f) / x)
                default: break
                }
            default:
                guard let x = try? tensorFromValue(a), let y = try? tensorFromValue(b) else { break }
                switch op {
                case .add: return .tensor(try x + y)
                case .subtract: return .tensor(try x - y)
                case .multiply: return .tensor(try x * y)
                case .divide: return .tensor(try x / y)
                case .matmul: return .tensor(try Tensor.matmul(x, y))
                default: break
                }
            }
        } catch let e as TensorError {
            throw Diagnostic(e.description, at: pos)
        } catch is ComputationInterrupted {
            Interrupt.clear()
            throw Diagnostic("interrupted", at: pos)
        }
        var msg = "cannot apply '\(op.rawValue)' to \(a.typeName) and \(b.typeName)"
        if [BinaryOp.less, .lessOrEqual, .greater, .greaterOrEqual].contains(op) { msg += " (compare numbers, e.g. x.item() < 1)" }
        throw Diagnostic(msg, at: pos)
    }

    func contains(_ container: Value, _ item: Value, at pos: SourcePos) throws -> Bool {
        switch container {
        case .list(let l): return l.items.contains { valuesEqual($0, item) }
        case .string(let s):
            guard case .string(let sub) = item else { throw Diagnostic("'in' on a string needs a string on the left", at: pos) }
            return s.contains(sub)
        case .record(let r):
            guard case .string(let k) = item else { throw Diagnostic("'in' on a record needs a field name on the left", at: pos) }
            return r[k] != nil
        default:
            throw Diagnostic("'in' needs a list, string or record on the right, got \(container.brief)", at: pos)
        }
    }

    // MARK: members

    /// `x.name`: record fields, tensor properties, object members; otherwise a builtin called with
    /// `x` as its first argument (`t.sum(axis: 0)` is `sum(t, axis: 0)`).
    func member(_ base: Value, _ name: String, at pos: SourcePos) throws -> Value {
        switch base {
        case .record(let r):
            if let v = r[name] { return v }
        case .tensor(let t):
            switch name {
            case "shape": return .list(t.shape.map { .int($0) })
            case "grad": return t.grad.map { .tensor($0) } ?? .nothing
            case "requires_grad": return .bool(t.requiresGrad)
            case "rank", "ndim": return .int(t.rank)
            case "size", "numel": return .int(t.count)
            case "dtype": return .string("f32")
            case "T":
                guard t.rank == 2 else { throw Diagnostic(".T needs a 2-D tensor, got shape \(shapeString(t.shape))", at: pos) }
                return .tensor(try wrap(pos) { try t.transpose(0, 1) })
            default: break
            }
        case .object(let o):
            if let v = try wrap(pos, { try o.member(name) }) { return v }
        default: break
        }
        if let b = Builtins.lookup(name), !b.params.isEmpty { return .builtin(b.bound(to: base)) }
        var msg = "\(base.typeName) has no member '\(shown(name))'"
        if case .record(let r) = base {
            msg = "record has no field '\(shown(name))'" + (r.keys.isEmpty ? "" : " (fields: \(r.keys.joined(separator: ", ")))")
        }
        if let s = suggestion(for: name, among: memberNames(of: base)) { msg += " (did you mean '\(s)'?)" }
        throw Diagnostic(msg, at: pos)
    }

    /// Names completion offers after `x.`.
    public func memberNames(of v: Value) -> [String] {
        switch v {
        case .record(let r): return r.keys
        case .tensor: return ["shape", "grad", "requires_grad", "rank", "size", "dtype", "T", "backward", "item",
                              "sum", "mean", "reshape", "transpose", "detach", "softmax"]
        case .object(let o): return o.memberNames
        case .list: return ["append", "len"]
        default: return []
        }
    }

    /// Runs `body`, turning builtin and tensor errors into a diagnostic at `pos`.
    func wrap<T>(_ pos: SourcePos, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ScriptError {
            throw Diagnostic(e.message, at: pos)
        } catch let e as TensorError {
            throw Diagnostic(e.description, at: pos)
        } catch is Interrupted {
            throw Diagnostic("interrupted", at: pos)
        } catch is ComputationInterrupted {
            Interrupt.clear()  // a long op inside the engine noticed Ctrl-C
            throw Diagnostic("interrupted", at: pos)
        } catch let d as Diagnostic {
            throw d
        } catch let d as DiagnosticList {
            throw d
        } catch {
            throw Diagnostic("\(error)", at: pos)
        }
    }
}
