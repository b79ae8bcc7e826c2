/// Static checks for `sardfq check`: parses, then resolves every name without running anything.
/// Reports unknown names (with "did you mean"), unknown keyword arguments and too many arguments
/// for builtins and user functions, and `return`/`break` in the wrong place.
public struct Resolver {
    var scopes: [[String: FunctionDecl?]] = [[:]]
    var loopDepth = 0
    var fnDepth = 0
    public private(set) var diagnostics: [Diagnostic] = []
    /// Problems found past `maxReported`: counted, not described (a file of 10 000 unknown names
    /// must not spend seconds on "did you mean" suggestions nobody reads).
    var unreported = 0
    var firstUnreported = SourcePos.unknown
    public static let maxReported = 50

    public init(predefined: [String] = []) {
        for n in predefined { scopes[0][n] = .some(nil) }
    }

    /// All problems in `program`, sorted by position (empty when it is fine).
    public static func check(_ program: Program, predefined: [String] = []) -> [Diagnostic] {
        var r = Resolver(predefined: predefined)
        r.block(program.statements, newScope: false)
        var all = r.diagnostics.sorted { ($0.pos.line, $0.pos.col) < ($1.pos.line, $1.pos.col) }
        if r.unreported > 0 {
            var more = Diagnostic("\(r.unreported) more problem\(r.unreported == 1 ? "" : "s") not shown (the first \(maxReported) are above), the next one here",
                                  at: r.firstUnreported)
            more.kind = .note
            all.append(more)
        }
        return all
    }

    /// Every problem `sardfq check` reports in `file`: its syntax errors, or, when it parses, the
    /// resolver's (the one path for the CLI, the fuzz harness, the bench and the tests).
    public static func check(source file: SourceFile, predefined: [String] = []) -> [Diagnostic] {
        do { return check(try Parser.parse(file), predefined: predefined) } catch let l as DiagnosticList {
            return l.items
        } catch let d as Diagnostic {
            return [d]
        } catch {
            return [Diagnostic("\(error)", at: SourcePos(file: file, line: 1, col: 1))]
        }
    }

    /// Records a problem; its message is built only while under `maxReported`.
    mutating func report(_ message: @autoclosure () -> String, at pos: SourcePos) {
        guard diagnostics.count < Resolver.maxReported else {
            if unreported == 0 { firstUnreported = pos }
            unreported += 1
            return
        }
        diagnostics.append(Diagnostic(message(), at: pos))
    }

    func find(_ name: String) -> FunctionDecl?? {
        for s in scopes.reversed() { if let d = s[name] { return .some(d) } }
        return nil
    }

    mutating func define(_ name: String, _ decl: FunctionDecl? = nil) { scopes[scopes.count - 1][name] = .some(decl) }

    mutating func block(_ stmts: [Stmt], newScope: Bool = true) {
        if newScope { scopes.append([:]) }
        for s in stmts { if case .function(let d) = s.kind { define(d.name, d) } }
        for s in stmts { stmt(s) }
        if newScope { scopes.removeLast() }
    }

    mutating func stmt(_ s: Stmt) {
        switch s.kind {
        case .letBinding(let name, let e): expr(e); define(name)
        case .assign(let target, _, let e):
            expr(e)
            if case .name(let n) = target.kind {
                if find(n) == nil {
                    report("unknown variable '\(shown(n))' (declare it first with 'let \(shown(n)) = …')", at: target.pos)
                }
            } else { expr(target) }
        case .expr(let e): expr(e)
        case .ifElse(let c, let t, let e):
            expr(c); block(t)
            if let e { block(e) }
        case .forIn(let name, let seq, let body):
            expr(seq)
            scopes.append([:])
            define(name)
            loopDepth += 1
            block(body)
            loopDepth -= 1
            scopes.removeLast()
        case .whileLoop(let c, let body):
            expr(c)
            loopDepth += 1
            block(body)
            loopDepth -= 1
        case .function(let d): function(d)
        case .returnStmt(let e):
            if fnDepth == 0 { report("'return' outside a function", at: s.pos) }
            if let e { expr(e) }
        case .breakStmt, .continueStmt:
            if loopDepth == 0 { report("'break'/'continue' outside a loop", at: s.pos) }
        }
    }

    mutating func function(_ d: FunctionDecl) {
        scopes.append([:])
        for p in d.params {
            if let def = p.defaultValue { expr(def) }
            define(p.name)
        }
        let savedLoop = loopDepth
        loopDepth = 0
        fnDepth += 1
        block(d.body)
        fnDepth -= 1
        loopDepth = savedLoop
        scopes.removeLast()
    }

    mutating func expr(_ e: Expr) {
        switch e.kind {
        case .number, .bool, .none: break
        case .string(let parts):
            for p in parts { if case .expr(let x, _) = p { expr(x) } }
        case .name(let n):
            if find(n) == nil && Builtins.lookup(n) == nil {
                let scopes = self.scopes
                report("unknown name '\(shown(n))'" + (suggestion(for: n, among: scopes.flatMap { $0.keys } + Builtins.names).map { " (did you mean '\($0)'?)" } ?? ""),
                       at: e.pos)
            }
        case .list(let xs): xs.forEach { expr($0) }
        case .record(let fs): fs.forEach { expr($0.1) }
        case .unary(_, let x): expr(x)
        case .binary(_, let a, let b), .logical(_, let a, let b): expr(a); expr(b)
        case .call(let callee, let args, _):
            expr(callee)
            args.forEach { expr($0.value) }
            checkCall(callee, args)
        case .member(let b, _): expr(b)
        case .index(let b, let items):
            expr(b)
            for it in items {
                switch it {
                case .single(let x): expr(x)
                case .slice(let a, let b, let c): [a, b, c].compactMap { $0 }.forEach { expr($0) }
                }
            }
        case .function(let d): function(d)
        }
    }

    /// Argument names and counts for calls whose callee is known statically.
    mutating func checkCall(_ callee: Expr, _ args: [Argument]) {
        guard case .name(let n) = callee.kind else { return }
        let positional = args.filter { $0.label == nil }
        if let found = find(n) {
            guard let d = found else { return }  // a variable: unknown until run time
            for a in args { if let l = a.label, !d.params.contains(where: { $0.name == l }) {
                report("unknown argument '\(shown(l))' to '\(n)'" + (suggestion(for: l, among: d.params.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""),
                       at: a.pos)
            } }
            if positional.count > d.params.count {
                report("too many arguments to '\(n)' (takes \(d.params.count), got \(positional.count))",
                                              at: positional[d.params.count].pos)
            }
            return
        }
        guard let b = Builtins.lookup(n) else { return }
        for a in args { if let l = a.label, !b.params.contains(where: { $0.name == l && !$0.variadic }) {
            report("unknown argument '\(shown(l))' to '\(n)'" + (suggestion(for: l, among: b.params.map(\.name)).map { " (did you mean '\($0)'?)" } ?? "")
                   + "; it takes: \(b.signature)", at: a.pos)
        } }
        let maxPositional = b.params.contains(where: \.variadic) ? Int.max : b.params.count
        if positional.count > maxPositional {
            report("too many arguments to '\(n)' (takes at most \(maxPositional), got \(positional.count))",
                                          at: positional[maxPositional].pos)
        }
        // Literal arguments can be checked against the declared kinds right away.
        var k = 0
        for a in args {
            let p: Param?
            if let l = a.label { p = b.params.first { $0.name == l } } else {
                p = k < b.params.count && !b.params[k].variadic ? b.params[k] : nil
                k += 1
            }
            guard let p, let lit = literal(a.value) else { continue }
            if case .nothing = lit, case .nothing? = p.defaultValue { continue }
            if p.kind.accept(lit) == nil {
                report("bad argument '\(p.name)' to '\(n)' (\(p.kind.expected) expected, got \(lit.brief))", at: a.pos)
            }
        }
    }

    func literal(_ e: Expr) -> Value? {
        switch e.kind {
        case .number(let n): return .number(n)
        case .bool(let b): return .bool(b)
        case .none: return Value.nothing
        case .string(let parts):
            if parts.count == 1, case .text(let s) = parts[0] { return .string(s) }
            if parts.isEmpty { return .string("") }
            return nil
        case .unary(.negate, let x): if case .number(let n) = x.kind { return .number(-n) }; return nil
        default: return nil
        }
    }
}
