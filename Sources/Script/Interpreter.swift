import Foundation
import Tensor

/// A scope: variables defined with `let`, function parameters, or `for` variables.
public final class Environment {
    public internal(set) var vars: [String: Value] = [:]
    let parent: Environment?
    init(parent: Environment?) { self.parent = parent }

    func lookup(_ name: String) -> Value? {
        var e: Environment? = self
        while let env = e {
            if let v = env.vars[name] { return v }
            e = env.parent
        }
        return nil
    }

    /// Reassigns an existing variable in the nearest scope that has it.
    func assign(_ name: String, _ v: Value) -> Bool {
        var e: Environment? = self
        while let env = e {
            if env.vars[name] != nil { env.vars[name] = v; return true }
            e = env.parent
        }
        return false
    }

    func define(_ name: String, _ v: Value) { vars[name] = v }

    /// Every visible name (for completion and "did you mean").
    var allNames: [String] {
        var out = Set<String>()
        var e: Environment? = self
        while let env = e { out.formUnion(env.vars.keys); e = env.parent }
        return Array(out)
    }
}

enum Flow {
    case normal
    case returned(Value)
    case broke
    case continued
}

/// Tree-walking interpreter. One instance per REPL session or recipe run; globals persist across
/// `run` calls (the REPL runs each entry in the same interpreter).
public final class Interpreter {
    public let globals = Environment(parent: nil)
    public var context: RunContext
    /// Receives everything `print` writes (text including the newline).
    public var output: (String) -> Void
    /// Maximum number of statements, loop iterations and calls per `run` (nil: unlimited).
    /// Used by tests and the fuzzer so hostile programs cannot hang.
    public var stepBudget: Int?
    /// Wall-clock limit in seconds per `run` (nil: unlimited).
    public var timeBudget: Double?
    public static let maxCallDepth = 150
    /// Longest list or string `+` may build, so a runaway loop fails instead of exhausting memory.
    public static let maxLength = 10_000_000
    /// The Ctrl-C flag this interpreter polls (tests give each interpreter its own).
    public var interruptFlag: UnsafeMutablePointer<Int32> = Interrupt.flag
    /// Called with each top-level statement before it runs (the run's notebook follows the sections).
    public var onTopLevelStatement: ((Stmt) -> Void)?

    var steps = 0
    /// Loops entered in the current function body (break/continue need one).
    var loopDepth = 0
    var deadline: Double = .infinity
    var callDepth = 0

    public init(context: RunContext = RunContext(), output: ((String) -> Void)? = nil) {
        self.context = context
        // Long operations inside the engine (a large matmul, t-SNE, reconstruction) poll Ctrl-C too.
        // Set once: the closure is the same for every interpreter, and a test may have put its own in place.
        if Interruption.poll == nil { Interruption.poll = { Interrupt.requested } }
        self.output = output ?? { text in
            Console.write(1, text.data(using: .utf8)!)
        }
    }

    /// Parses and runs `source`. Returns the value of the last statement when it is an expression
    /// (what the REPL prints), otherwise nil.
    @discardableResult
    public func run(source: String, name: String = "<input>") throws -> Value? {
        try run(try Parser.parse(SourceFile(name: name, text: source)))
    }

    @discardableResult
    public func run(_ program: Program) throws -> Value? {
        steps = 0
        callDepth = 0
        loopDepth = 0
        deadline = timeBudget.map { ProcessInfo.processInfo.systemUptime + $0 } ?? .infinity
        hoistFunctions(program.statements, into: globals)
        var last: Value? = nil
        for s in program.statements {
            last = nil
            onTopLevelStatement?(s)
            if case .expr(let e) = s.kind {
                try tick(s.pos)
                last = try eval(e, globals)
                continue
            }
            switch try exec(s, globals) {
            case .normal: break
            case .returned: throw Diagnostic("'return' outside a function", at: s.pos)
            case .broke, .continued: throw Diagnostic("'break'/'continue' outside a loop", at: s.pos)
            }
        }
        return last
    }

    /// Counts one step and checks Ctrl-C, the step budget and the time budget.
    @inline(__always) func tick(_ pos: SourcePos) throws {
        steps += 1
        if interruptFlag.pointee != 0 {
            interruptFlag.pointee = 0
            throw Diagnostic("interrupted", at: pos)
        }
        if let b = stepBudget, steps > b { throw Diagnostic("step budget of \(b) exceeded", at: pos) }
        if steps & 255 == 0, ProcessInfo.processInfo.systemUptime > deadline {
            throw Diagnostic("time budget of \(timeBudget ?? 0) s exceeded", at: pos)
        }
    }

    /// `fn` declarations are visible in their whole block, so recipes can call helpers defined below.
    func hoistFunctions(_ stmts: [Stmt], into env: Environment) {
        for s in stmts {
            if case .function(let decl) = s.kind { env.define(decl.name, .function(Closure(decl: decl, env: env))) }
        }
    }

    func execBlock(_ stmts: [Stmt], _ env: Environment) throws -> Flow {
        hoistFunctions(stmts, into: env)
        for s in stmts {
            let f = try exec(s, env)
            if case .normal = f { continue }
            return f
        }
        return .normal
    }

    func exec(_ s: Stmt, _ env: Environment) throws -> Flow {
        try tick(s.pos)
        switch s.kind {
        case .letBinding(let name, let e):
            env.define(name, try eval(e, env))
        case .assign(let target, let op, let e):
            try assign(target, op: op, value: e, env, at: s.pos)
        case .expr(let e):
            _ = try eval(e, env)
        case .ifElse(let cond, let then, let otherwise):
            if try eval(cond, env).isTruthy {
                return try execBlock(then, Environment(parent: env))
            } else if let otherwise {
                return try execBlock(otherwise, Environment(parent: env))
            }
        case .forIn(let name, let seqExpr, let body):
            let seq = try iterate(try eval(seqExpr, env), at: seqExpr.pos)
            loopDepth += 1
            defer { loopDepth -= 1 }
            for item in seq {
                try tick(s.pos)
                let scope = Environment(parent: env)
                scope.define(name, item)
                switch try execBlock(body, scope) {
                case .broke: return .normal
                case .returned(let v): return .returned(v)
                default: continue
                }
            }
        case .whileLoop(let cond, let body):
            loopDepth += 1
            defer { loopDepth -= 1 }
            while try eval(cond, env).isTruthy {
                try tick(s.pos)
                switch try execBlock(body, Environment(parent: env)) {
                case .broke: return .normal
                case .returned(let v): return .returned(v)
                default: continue
                }
            }
        case .function(let decl):
            // Already hoisted; redefine so a closure sees the scope as it is now.
            env.define(decl.name, .function(Closure(decl: decl, env: env)))
        case .returnStmt(let e):
            return .returned(try e.map { try eval($0, env) } ?? .nothing)
        case .breakStmt, .continueStmt:
            guard loopDepth > 0 else { throw Diagnostic("'break'/'continue' outside a loop", at: s.pos) }
            if case .breakStmt = s.kind { return .broke }
            return .continued
        }
        return .normal
    }

    /// The values a `for` loop visits: list items, `range` numbers, string characters, record keys,
    /// tensor rows (along the first axis).
    func iterate(_ v: Value, at pos: SourcePos) throws -> AnySequence<Value> {
        switch v {
        case .list(let l): return AnySequence(l.items)
        case .string(let s): return AnySequence(s.map { Value.string(String($0)) })
        case .record(let r): return AnySequence(r.keys.map { Value.string($0) })
        case .tensor(let t):
            guard t.rank >= 1 else { throw Diagnostic("cannot loop over a scalar tensor", at: pos) }
            return AnySequence((0..<t.shape[0]).lazy.map { i in
                (try? self.tensorIndex(t, [.index(i)], at: pos)).map { Value.tensor($0) } ?? .nothing
            })
        case .object(let o):
            if let seq = o as? ScriptSequence { return AnySequence(seq.items) }
            throw Diagnostic("cannot loop over a \(o.typeName)", at: pos)
        default:
            throw Diagnostic("cannot loop over \(v.brief) (a list, range, string or tensor is needed)", at: pos)
        }
    }

    func assign(_ target: Expr, op: String, value e: Expr, _ env: Environment, at pos: SourcePos) throws {
        var v = try eval(e, env)
        if op != "=" {
            let current = try eval(target, env)
            v = try binary(BinaryOp(compound: op)!, current, v, at: pos)
        }
        switch target.kind {
        case .name(let name):
            guard env.assign(name, v) else {
                throw Diagnostic("unknown variable '\(shown(name))' (declare it first with 'let \(shown(name)) = …')", at: target.pos)
            }
        case .member(let base, let name):
            let b = try eval(base, env)
            switch b {
            case .record(let r): r[name] = v
            case .tensor(let t) where name == "requires_grad":
                guard case .bool(let flag) = v else { throw Diagnostic("requires_grad must be true or false", at: pos) }
                t.requiresGrad = flag
            default: throw Diagnostic("cannot set member '\(shown(name))' of \(b.brief)", at: target.pos)
            }
        case .index(let base, let items):
            let b = try eval(base, env)
            try assignIndex(b, items, v, env, at: target.pos)
        default:
            throw Diagnostic("cannot assign to this expression", at: target.pos)
        }
    }
}

/// Objects a `for` loop can walk (datasets, image sets…) conform to this.
public protocol ScriptSequence: ScriptObject {
    var items: [Value] { get }
}
