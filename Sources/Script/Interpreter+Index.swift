import Foundation
import Tensor

/// One evaluated index item: `x[i]` or `x[start:end:step]`.
enum IndexValue {
    case index(Int)
    case slice(Int?, Int?, Int?)
    /// `r["name"]` on a record.
    case key(String)
}

/// Python slice semantics: the positions `start:end:step` selects in a sequence of `count` items.
func sliceIndices(count: Int, _ start: Int?, _ end: Int?, _ step: Int?) throws -> [Int] {
    let step = step ?? 1
    guard step != 0 else { throw ScriptError("slice step cannot be 0") }
    func norm(_ i: Int?, _ dflt: Int, lo: Int, hi: Int) -> Int {
        guard var i else { return dflt }
        if i < 0 { i += count }
        return min(max(i, lo), hi)
    }
    if step > 0 {
        let s = norm(start, 0, lo: 0, hi: count), e = norm(end, count, lo: 0, hi: count)
        return s < e ? Array(stride(from: s, to: e, by: step)) : []
    }
    let s = norm(start, count - 1, lo: -1, hi: count - 1), e = norm(end, -1, lo: -1, hi: count - 1)
    return s > e ? Array(stride(from: s, to: e, by: step)) : []
}

extension Interpreter {
    func evalIndex(_ item: IndexItem, _ env: Environment) throws -> IndexValue {
        func int(_ e: Expr?) throws -> Int? {
            guard let e else { return nil }
            let v = try eval(e, env)
            switch v {
            case .number(let n) where n == n.rounded() && abs(n) < 1e15: return Int(n)
            case .nothing: return nil
            case .tensor(let t) where t.count == 1 && t.ptr[0] == t.ptr[0].rounded() && abs(t.ptr[0]) < 1e9: return Int(t.ptr[0])
            default: throw Diagnostic("an index must be an integer, got \(v.brief)", at: e.pos)
            }
        }
        switch item {
        case .single(let e):
            if case .string(let k) = try eval(e, env) { return .key(k) }
            return .index(try int(e) ?? 0)
        case .slice(let a, let b, let c): return .slice(try int(a), try int(b), try int(c))
        }
    }

    func index(_ base: Value, _ items: [IndexValue], at pos: SourcePos) throws -> Value {
        switch base {
        case .tensor(let t):
            return .tensor(try tensorIndex(t, items, at: pos))
        case .list(let l):
            return try sequenceIndex(l.items, items, at: pos, what: "list") { .list($0) }
        case .string(let s):
            return try sequenceIndex(s.map { .string(String($0)) }, items, at: pos, what: "string") { parts in
                .string(parts.map(\.display).joined())
            }
        case .record(let r):
            guard items.count == 1, case .key(let k) = items[0] else {
                throw Diagnostic("a record is indexed by a field name: r[\"name\"]", at: pos)
            }
            guard let v = r[k] else {
                throw Diagnostic("record has no field '\(k)'" + (r.keys.isEmpty ? "" : " (fields: \(r.keys.joined(separator: ", ")))"), at: pos)
            }
            return v
        default:
            throw Diagnostic("cannot index \(base.brief)", at: pos)
        }
    }

    func sequenceIndex(_ xs: [Value], _ items: [IndexValue], at pos: SourcePos, what: String,
                       make: ([Value]) -> Value) throws -> Value {
        guard items.count == 1 else { throw Diagnostic("a \(what) takes one index, got \(items.count)", at: pos) }
        switch items[0] {
        case .index(let i):
            let j = i < 0 ? i + xs.count : i
            guard j >= 0, j < xs.count else {
                throw Diagnostic("index \(i) out of range for a \(what) of length \(xs.count)", at: pos)
            }
            return xs[j]
        case .slice(let a, let b, let c):
            return make(try wrap(pos) { try sliceIndices(count: xs.count, a, b, c) }.map { xs[$0] })
        case .key(let k):
            throw Diagnostic("a \(what) is indexed by integers, got \"\(k)\"", at: pos)
        }
    }

    /// `t[i]` drops the axis, `t[a:b]` keeps it; items apply to the leading axes in order.
    /// Gradients flow through (slice, index_select and reshape are differentiable).
    func tensorIndex(_ t: Tensor, _ items: [IndexValue], at pos: SourcePos) throws -> Tensor {
        guard items.count <= t.rank else {
            throw Diagnostic("too many indices (\(items.count)) for a tensor of shape \(shapeString(t.shape))", at: pos)
        }
        return try wrap(pos) {
            var x = t
            for (axis, item) in items.enumerated() {
                let n = x.shape[axis]
                switch item {
                case .index(let i):
                    let j = i < 0 ? i + n : i
                    guard j >= 0, j < n else {
                        throw ScriptError("index \(i) out of range for axis \(axis) of size \(n) (shape \(shapeString(t.shape)))")
                    }
                    x = try x.slice(axis: axis, start: j, end: j + 1)
                case .slice(let a, let b, let c):
                    if (c ?? 1) > 0 {
                        let idx = try sliceIndices(count: n, a, b, c)
                        if let first = idx.first {
                            x = try x.slice(axis: axis, start: first, end: idx.last! + 1, step: c ?? 1)
                        } else {
                            x = try x.slice(axis: axis, start: 0, end: 0)
                        }
                    } else {
                        x = try x.indexSelect(axis: axis, indices: try sliceIndices(count: n, a, b, c))
                    }
                case .key(let k):
                    throw ScriptError("a tensor is indexed by integers, got \"\(k)\"")
                }
            }
            var shape: [Int] = []
            for (axis, item) in items.enumerated() {
                if case .slice = item { shape.append(x.shape[axis]) }
            }
            shape += x.shape.dropFirst(items.count)
            return shape == x.shape ? x : try x.reshape(shape)
        }
    }

    func assignIndex(_ base: Value, _ itemExprs: [IndexItem], _ v: Value, _ env: Environment, at pos: SourcePos) throws {
        switch base {
        case .list(let l):
            guard itemExprs.count == 1, case .index(let i) = try evalIndex(itemExprs[0], env) else {
                throw Diagnostic("list assignment takes one integer index", at: pos)
            }
            let j = i < 0 ? i + l.items.count : i
            guard j >= 0, j < l.items.count else {
                throw Diagnostic("index \(i) out of range for a list of length \(l.items.count)", at: pos)
            }
            l.items[j] = v
        case .record(let r):
            guard itemExprs.count == 1, case .single(let e) = itemExprs[0], case .string(let key) = try eval(e, env) else {
                throw Diagnostic("record assignment takes a field name: r[\"name\"] = …", at: pos)
            }
            r[key] = v
        case .tensor(let t):
            // Writing one element (teaching aid); never recorded on the tape.
            let idx = try itemExprs.map { try evalIndex($0, env) }
            guard idx.count == t.rank else {
                throw Diagnostic("tensor assignment needs one index per axis (\(t.rank)), got \(idx.count)", at: pos)
            }
            guard case .number(let n) = v else { throw Diagnostic("only a number can be written into a tensor element", at: pos) }
            var off = 0
            for (axis, item) in idx.enumerated() {
                guard case .index(let i) = item else { throw Diagnostic("tensor assignment takes integer indices", at: pos) }
                let j = i < 0 ? i + t.shape[axis] : i
                guard j >= 0, j < t.shape[axis] else {
                    throw Diagnostic("index \(i) out of range for axis \(axis) of size \(t.shape[axis])", at: pos)
                }
                off = off * t.shape[axis] + j
            }
            t.ptr[off] = Float(n)
        default:
            throw Diagnostic("cannot assign into \(base.brief) by index", at: pos)
        }
    }
}
