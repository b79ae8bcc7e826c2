import Foundation
import Tensor

extension Interpreter {
    /// Calls a function value from Swift (used by builtins such as `map`) with positional arguments.
    public func callValue(_ f: Value, _ args: [Value], at pos: SourcePos) throws -> Value {
        try call(f, args.map { ($0, pos) }, [], at: pos)
    }

    func call(_ callee: Value, _ positional: [(Value, SourcePos)], _ keyword: [(String, Value, SourcePos)],
              at pos: SourcePos) throws -> Value {
        try tick(pos)
        switch callee {
        case .builtin(let b):
            let args = try bind(b, positional, keyword, at: pos)
            callDepth += 1
            defer { callDepth -= 1 }
            if callDepth > Interpreter.maxCallDepth {
                throw Diagnostic("calls nested too deeply (more than \(Interpreter.maxCallDepth))", at: pos)
            }
            return try wrap(pos) { try b.impl(args) }
        case .function(let c):
            return try callClosure(c, positional, keyword, at: pos)
        default:
            throw Diagnostic("\(callee.brief) is not a function", at: pos)
        }
    }

    func callClosure(_ c: Closure, _ positional: [(Value, SourcePos)], _ keyword: [(String, Value, SourcePos)],
                     at pos: SourcePos) throws -> Value {
        let decl = c.decl
        guard callDepth < Interpreter.maxCallDepth else {
            throw Diagnostic("calls nested too deeply (more than \(Interpreter.maxCallDepth)); is '\(decl.name)' recursing forever?", at: pos)
        }
        if positional.count > decl.params.count {
            throw Diagnostic("too many arguments to '\(decl.name)' (takes \(decl.params.count), got \(positional.count))",
                             at: positional[decl.params.count].1)
        }
        let scope = Environment(parent: c.env)
        var given: [String: Value] = [:]
        for (i, (v, _)) in positional.enumerated() { given[decl.params[i].name] = v }
        for (label, v, apos) in keyword {
            guard decl.params.contains(where: { $0.name == label }) else {
                var msg = "unknown argument '\(shown(label))' to '\(decl.name)'"
                if let s = suggestion(for: label, among: decl.params.map(\.name)) { msg += " (did you mean '\(s)'?)" }
                throw Diagnostic(msg, at: apos)
            }
            if given[label] != nil { throw Diagnostic("argument '\(shown(label))' to '\(decl.name)' given twice", at: apos) }
            given[label] = v
        }
        for p in decl.params where given[p.name] == nil && p.defaultValue == nil {
            throw Diagnostic("missing argument '\(p.name)' to '\(decl.name)'", at: pos)
        }
        callDepth += 1
        let outerLoops = loopDepth
        loopDepth = 0  // a loop around the call does not let the body 'break'
        defer { callDepth -= 1; loopDepth = outerLoops }
        do {
            for p in decl.params {
                if let v = given[p.name] {
                    scope.define(p.name, v)
                } else if let d = p.defaultValue {
                    scope.define(p.name, try eval(d, scope))  // defaults may use earlier parameters
                }
            }
            switch try execBlock(decl.body, scope) {
            case .returned(let v): return v
            case .normal: return .nothing
            case .broke, .continued: throw Diagnostic("'break'/'continue' outside a loop", at: decl.pos)
            }
        } catch var d as Diagnostic {
            // Errors raised inside the body carry the chain of calls that led there.
            if let last = d.callChain.last, last.function == decl.name, last.callSite.line == pos.line,
               last.callSite.col == pos.col, last.callSite.file === pos.file {
                d.callChain[d.callChain.count - 1].repeats += 1
            } else {
                d.callChain.append(CallFrame(function: decl.name, callSite: pos))
            }
            throw d
        }
    }

    /// Matches arguments to a builtin's declared parameters, checking and converting each one.
    func bind(_ b: Builtin, _ positionalIn: [(Value, SourcePos)], _ keyword: [(String, Value, SourcePos)],
              at pos: SourcePos) throws -> Args {
        var positional = positionalIn
        if let recv = b.boundTo { positional.insert((recv, pos), at: 0) }
        var values: [String: Value] = [:]
        var rest: [Value] = []
        var positions: [String: SourcePos] = [:]
        var k = 0
        for p in b.params {
            if p.variadic {
                while k < positional.count { rest.append(positional[k].0); k += 1 }
                values[p.name] = .list(rest)
                break
            }
            guard k < positional.count else { break }
            values[p.name] = positional[k].0
            positions[p.name] = positional[k].1
            k += 1
        }
        if k < positional.count {
            let max = b.params.filter { !$0.variadic }.count
            throw Diagnostic("too many arguments to '\(b.name)' (takes at most \(max), got \(positional.count))",
                             at: positional[k].1)
        }
        for (label, v, apos) in keyword {
            guard let p = b.params.first(where: { $0.name == label }), !p.variadic else {
                var msg = "unknown argument '\(shown(label))' to '\(b.name)'"
                if let s = suggestion(for: label, among: b.params.map(\.name)) { msg += " (did you mean '\(s)'?)" }
                msg += "; it takes: \(b.signature)"
                throw Diagnostic(msg, at: apos)
            }
            if values[label] != nil { throw Diagnostic("argument '\(shown(label))' to '\(b.name)' given twice", at: apos) }
            values[label] = v
            positions[label] = apos
        }
        for p in b.params where !p.variadic {
            guard let v = values[p.name] else {
                guard let d = p.defaultValue else {
                    throw Diagnostic("missing argument '\(p.name)' to '\(b.name)'; it takes: \(b.signature)", at: pos)
                }
                values[p.name] = d
                continue
            }
            if case .nothing = v, case .nothing? = p.defaultValue { continue }  // explicit none for an optional
            guard let converted = p.kind.accept(v) else {
                throw Diagnostic("bad argument '\(p.name)' to '\(b.name)' (\(p.kind.expected) expected, got \(v.brief))",
                                 at: positions[p.name] ?? pos)
            }
            values[p.name] = converted
        }
        return Args(builtin: b, values: values, rest: rest, interpreter: self, pos: pos)
    }
}
