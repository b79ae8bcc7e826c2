/// Recursive-descent parser. On a syntax error it records a diagnostic, skips to the end of the
/// statement and goes on, so one run reports several errors (at most `maxErrors`).
public struct Parser {
    public static let maxErrors = 20
    /// Nesting limit for expressions and blocks, so hostile input cannot overflow the stack.
    public static let maxDepth = 200

    let file: SourceFile
    var tokens: [Token]
    var p = 0
    var depth = 0
    public internal(set) var diagnostics: [Diagnostic] = []

    public init(file: SourceFile) {
        var lexer = Lexer(file: file)
        self.file = file
        self.tokens = lexer.tokenize()
        self.diagnostics = lexer.diagnostics
    }

    init(file: SourceFile, text: String, line: Int, col: Int) {
        var lexer = Lexer(file: file, text: text, line: line, col: col)
        self.file = file
        self.tokens = lexer.tokenize()
        self.diagnostics = lexer.diagnostics
    }

    /// Size limits that keep `check` well under a second on any input: a recipe is a few hundred
    /// short lines, and a longer text is refused before it is lexed.
    public static let maxSourceBytes = 1 << 20
    public static let maxLineLength = 10_000

    /// The first line over `maxLineLength` characters, or a text over `maxSourceBytes`, as a diagnostic.
    static func sizeProblem(_ file: SourceFile) -> Diagnostic? {
        if file.text.utf8.count > maxSourceBytes {
            return Diagnostic("source too long (\(file.text.utf8.count) bytes; a program is limited to \(maxSourceBytes))",
                              at: SourcePos(file: file, line: 1, col: 1))
        }
        for (k, line) in file.lines.enumerated() where line.utf8.count > maxLineLength && line.count > maxLineLength {
            return Diagnostic("line too long (\(line.count) characters; a line is limited to \(maxLineLength))",
                              at: SourcePos(file: file, line: k + 1, col: maxLineLength + 1))
        }
        return nil
    }

    /// Parses a whole file. Throws `DiagnosticList` with every syntax error found.
    public static func parse(_ file: SourceFile) throws -> Program {
        if let d = sizeProblem(file) { throw DiagnosticList([d]) }
        var parser = Parser(file: file)
        // Lexical errors (bad strings, stray characters) make the parser trip on the same line
        // again; report only the lexical one there.
        let lexical = parser.diagnostics
        let badLines = Set(lexical.map(\.pos.line))
        let stmts = parser.parseProgram()
        parser.diagnostics = lexical + parser.diagnostics.dropFirst(lexical.count).filter { !badLines.contains($0.pos.line) }
        if !parser.diagnostics.isEmpty {
            throw DiagnosticList(parser.diagnostics.sorted { ($0.pos.line, $0.pos.col) < ($1.pos.line, $1.pos.col) })
        }
        return Program(file: file, statements: stmts)
    }

    /// Whether `text` is an unfinished statement (open bracket, brace or string at the end, or a
    /// trailing operator): the REPL then shows the continuation prompt instead of an error.
    public static func isIncomplete(_ text: String) -> Bool {
        do { _ = try parse(SourceFile(name: "<repl>", text: text)); return false } catch let e as DiagnosticList {
            return e.items.first?.atEndOfInput ?? false  // sorted: the earliest problem decides
        } catch { return false }
    }

    // MARK: token helpers

    var tok: Token { tokens[p] }
    func peekTok(_ k: Int) -> Token { tokens[min(p + k, tokens.count - 1)] }
    mutating func advance() -> Token {
        let t = tokens[p]
        if p < tokens.count - 1 { p += 1 }
        return t
    }
    mutating func skipNewlines() { while tok.kind == .newline { _ = advance() } }
    func error(_ message: String, _ at: Token? = nil) -> Diagnostic {
        let t = at ?? tok
        return Diagnostic(message, at: t.pos, atEndOfInput: t.kind == .eof)
    }
    mutating func expectSymbol(_ s: String, _ context: String) throws {
        guard tok.isSymbol(s) else { throw error("expected '\(s)' \(context), found \(tok)") }
        _ = advance()
    }
    mutating func expectIdent(_ context: String) throws -> String {
        guard tok.kind == .ident else {
            if tok.kind == .keyword { throw error("'\(tok.text)' is a keyword and cannot be used as \(context)") }
            throw error("expected \(context), found \(tok)")
        }
        return advance().text
    }
    /// One more link of a left-associative chain (`a + b + c`, `x.f().g[0]`): the tree gets deeper.
    mutating func link(_ links: inout Int) throws {
        links += 1
        try enter()
    }

    mutating func enter() throws {
        depth += 1
        if depth > Parser.maxDepth { throw error("program nested too deeply (more than \(Parser.maxDepth) levels)") }
    }

    // MARK: statements

    mutating func parseProgram() -> [Stmt] {
        var stmts: [Stmt] = []
        skipSeparators()
        while tok.kind != .eof && diagnostics.count < Parser.maxErrors {
            if tok.isSymbol("}") {
                diagnostics.append(error("unexpected '}' (no block to close)"))
                _ = advance()
            } else if let s = statementRecovering() {
                stmts.append(s)
            }
            skipSeparators()
        }
        return stmts
    }

    mutating func skipSeparators() { while tok.kind == .newline || tok.isSymbol(";") { _ = advance() } }

    /// One statement; on error records it and skips to the next line (or the closing brace).
    mutating func statementRecovering() -> Stmt? {
        let saveDepth = depth
        do {
            let s = try statement()
            try endOfStatement()
            return s
        } catch let d as Diagnostic {
            diagnostics.append(d)
            depth = saveDepth
            recover()
            return nil
        } catch { return nil }
    }

    mutating func recover() {
        var nest = 0
        while tok.kind != .eof {
            if nest == 0 && (tok.kind == .newline || tok.isSymbol(";")) { return }
            if tok.isSymbol("{") { nest += 1 }
            if tok.isSymbol("}") {
                if nest == 0 { return }
                nest -= 1
            }
            _ = advance()
        }
    }

    mutating func endOfStatement() throws {
        if tok.kind == .newline || tok.kind == .eof || tok.isSymbol(";") || tok.isSymbol("}") { return }
        throw error("expected end of line after statement, found \(tok)")
    }

    mutating func block(_ context: String) throws -> [Stmt] {
        try enter()
        defer { depth -= 1 }
        guard tok.isSymbol("{") else { throw error("expected '{' to start \(context), found \(tok)") }
        _ = advance()
        var stmts: [Stmt] = []
        skipSeparators()
        while !tok.isSymbol("}") {
            if tok.kind == .eof { throw error("missing '}' to close \(context)") }
            if diagnostics.count >= Parser.maxErrors { throw error("too many errors") }
            if let s = statementRecovering() { stmts.append(s) }
            skipSeparators()
        }
        _ = advance()
        return stmts
    }

    mutating func statement() throws -> Stmt {
        let start = tok
        if start.kind == .keyword {
            switch start.text {
            case "let":
                _ = advance()
                let name = try expectIdent("a variable name after 'let'")
                try expectSymbol("=", "after 'let \(name)'")
                skipNewlines()
                return Stmt(.letBinding(name, try expression()), start.pos)
            case "fn" where peekTok(1).kind == .ident:
                _ = advance()
                let name = advance().text
                return Stmt(.function(try functionRest(name: name, pos: start.pos)), start.pos)
            case "if":
                return try ifStatement()
            case "for":
                _ = advance()
                let name = try expectIdent("a loop variable after 'for'")
                guard tok.isKeyword("in") else { throw error("expected 'in' after 'for \(name)', found \(tok)") }
                _ = advance()
                let seq = try expression()
                return Stmt(.forIn(name, seq, try block("the 'for' body")), start.pos)
            case "while":
                _ = advance()
                let cond = try expression()
                return Stmt(.whileLoop(cond, try block("the 'while' body")), start.pos)
            case "return":
                _ = advance()
                if tok.kind == .newline || tok.kind == .eof || tok.isSymbol("}") || tok.isSymbol(";") {
                    return Stmt(.returnStmt(nil), start.pos)
                }
                return Stmt(.returnStmt(try expression()), start.pos)
            case "break": _ = advance(); return Stmt(.breakStmt, start.pos)
            case "continue": _ = advance(); return Stmt(.continueStmt, start.pos)
            case "else": throw error("'else' without 'if'")
            case "in": throw error("'in' outside a 'for' loop")
            default: break
            }
        }
        let e = try expression()
        if tok.kind == .symbol, ["=", "+=", "-=", "*=", "/="].contains(tok.text) {
            let op = advance()
            switch e.kind {
            case .name, .member, .index: break
            default: throw error("cannot assign to this expression", op)
            }
            skipNewlines()
            return Stmt(.assign(e, op.text, try expression()), op.pos)
        }
        return Stmt(.expr(e), start.pos)
    }

    mutating func ifStatement() throws -> Stmt {
        let start = advance()
        let cond = try expression()
        let then = try block("the 'if' body")
        // `else` may sit on the next line after the closing brace.
        var k = 0
        while peekTok(k).kind == .newline { k += 1 }
        guard peekTok(k).isKeyword("else") else { return Stmt(.ifElse(cond, then, nil), start.pos) }
        for _ in 0..<k { _ = advance() }
        _ = advance()
        if tok.isKeyword("if") {
            try enter()
            defer { depth -= 1 }
            return Stmt(.ifElse(cond, then, [try ifStatement()]), start.pos)
        }
        return Stmt(.ifElse(cond, then, try block("the 'else' body")), start.pos)
    }

    mutating func functionRest(name: String, pos: SourcePos) throws -> FunctionDecl {
        try expectSymbol("(", "after the function name")
        var params: [ParamDecl] = []
        while !tok.isSymbol(")") {
            let ptok = tok
            let pname = try expectIdent("a parameter name")
            if params.contains(where: { $0.name == pname }) { throw error("duplicate parameter '\(pname)'", ptok) }
            var def: Expr? = nil
            if tok.isSymbol(":") || tok.isSymbol("=") {
                _ = advance()
                def = try expression()
            } else if params.last?.defaultValue != nil {
                throw error("parameter '\(pname)' needs a default because the one before it has one", ptok)
            }
            params.append(ParamDecl(name: pname, defaultValue: def, pos: ptok.pos))
            if tok.isSymbol(",") { _ = advance() } else if !tok.isSymbol(")") {
                throw error("expected ',' or ')' in the parameter list, found \(tok)")
            }
        }
        _ = advance()
        let body = try block("the body of '\(name)'")
        return FunctionDecl(name: name, params: params, body: body, pos: pos)
    }

    // MARK: expressions (lowest precedence first)

    public mutating func expression() throws -> Expr {
        try enter()
        defer { depth -= 1 }
        return try pipe()
    }

    mutating func pipe() throws -> Expr {
        var lhs = try orExpr()
        var links = 0
        defer { depth -= links }
        while true {
            // A pipeline may continue on the next line: `x\n  |> f()`.
            var k = 0
            while peekTok(k).kind == .newline { k += 1 }
            guard peekTok(k).isSymbol("|>") else { return lhs }
            for _ in 0..<k { _ = advance() }
            let op = advance()
            try link(&links)
            skipNewlines()
            let rhs = try postfix()
            switch rhs.kind {
            case .call(let callee, let args, _):
                lhs = Expr(.call(callee, [Argument(label: nil, value: lhs, pos: lhs.pos)] + args, piped: true), op.pos)
            case .name, .member, .function:
                lhs = Expr(.call(rhs, [Argument(label: nil, value: lhs, pos: lhs.pos)], piped: true), op.pos)
            default:
                throw error("the right side of '|>' must be a function or a call like f(a)", op)
            }
        }
    }

    mutating func orExpr() throws -> Expr {
        var lhs = try andExpr()
        var links = 0
        defer { depth -= links }
        while tok.isKeyword("or") {
            let op = advance(); skipNewlines()
            try link(&links)
            lhs = Expr(.logical(.or, lhs, try andExpr()), op.pos)
        }
        return lhs
    }

    mutating func andExpr() throws -> Expr {
        var lhs = try notExpr()
        var links = 0
        defer { depth -= links }
        while tok.isKeyword("and") {
            let op = advance(); skipNewlines()
            try link(&links)
            lhs = Expr(.logical(.and, lhs, try notExpr()), op.pos)
        }
        return lhs
    }

    mutating func notExpr() throws -> Expr {
        if tok.isKeyword("not") {
            let op = advance()
            try enter(); defer { depth -= 1 }
            return Expr(.unary(.not, try notExpr()), op.pos)
        }
        return try comparison()
    }

    static let comparisons: Set<String> = ["==", "!=", "<", "<=", ">", ">="]

    mutating func comparison() throws -> Expr {
        let lhs = try additive()
        guard tok.kind == .symbol, Parser.comparisons.contains(tok.text) else {
            if tok.isKeyword("in") { let op = advance(); skipNewlines(); return Expr(.binary(.contains, lhs, try additive()), op.pos) }
            return lhs
        }
        let op = advance(); skipNewlines()
        let rhs = try additive()
        if tok.kind == .symbol, Parser.comparisons.contains(tok.text) {
            throw error("comparisons cannot be chained; use 'and' (a < b and b < c)")
        }
        return Expr(.binary(BinaryOp(rawValue: op.text)!, lhs, rhs), op.pos)
    }

    mutating func additive() throws -> Expr {
        var lhs = try multiplicative()
        var links = 0
        defer { depth -= links }
        while tok.isSymbol("+") || tok.isSymbol("-") {
            let op = advance(); skipNewlines()
            try link(&links)
            lhs = Expr(.binary(BinaryOp(rawValue: op.text)!, lhs, try multiplicative()), op.pos)
        }
        return lhs
    }

    mutating func multiplicative() throws -> Expr {
        var lhs = try unary()
        var links = 0
        defer { depth -= links }
        while tok.isSymbol("*") || tok.isSymbol("/") || tok.isSymbol("%") || tok.isSymbol("@") {
            let op = advance(); skipNewlines()
            try link(&links)
            lhs = Expr(.binary(BinaryOp(rawValue: op.text)!, lhs, try unary()), op.pos)
        }
        return lhs
    }

    mutating func unary() throws -> Expr {
        if tok.isSymbol("-") || tok.isSymbol("+") || tok.isSymbol("!") {
            let op = advance()
            try enter(); defer { depth -= 1 }
            let inner = try unary()
            if op.text == "+" { return inner }
            return Expr(.unary(op.text == "!" ? .not : .negate, inner), op.pos)
        }
        return try postfix()
    }

    mutating func postfix() throws -> Expr {
        var e = try primary()
        var links = 0
        defer { depth -= links }
        while true {
            if tok.isSymbol("(") || tok.isSymbol(".") || tok.isSymbol("[") { try link(&links) }
            if tok.isSymbol("(") {
                let open = advance()
                e = Expr(.call(e, try arguments(), piped: false), open.pos)
            } else if tok.isSymbol(".") {
                _ = advance()
                guard tok.kind == .ident || tok.kind == .keyword else { throw error("expected a member name after '.', found \(tok)") }
                let name = advance()
                e = Expr(.member(e, name.text), name.pos)
            } else if tok.isSymbol("[") {
                let open = advance()
                e = Expr(.index(e, try indexItems()), open.pos)
            } else {
                return e
            }
        }
    }

    mutating func arguments() throws -> [Argument] {
        var args: [Argument] = []
        var seenLabel = false
        while !tok.isSymbol(")") {
            let start = tok
            var label: String? = nil
            if (tok.kind == .ident || tok.kind == .keyword) && peekTok(1).isSymbol(":") {
                label = advance().text
                _ = advance()
                if args.contains(where: { $0.label == label }) { throw error("argument '\(label!)' given twice", start) }
                seenLabel = true
            } else if seenLabel {
                throw error("positional argument after keyword arguments", start)
            }
            args.append(Argument(label: label, value: try expression(), pos: start.pos))
            if tok.isSymbol(",") { _ = advance() } else if !tok.isSymbol(")") {
                throw error("expected ',' or ')' in the argument list, found \(tok)")
            }
        }
        _ = advance()
        return args
    }

    mutating func indexItems() throws -> [IndexItem] {
        var items: [IndexItem] = []
        while !tok.isSymbol("]") {
            var parts: [Expr?] = []
            var isSlice = false
            var current: Expr? = nil
            while true {
                if tok.isSymbol(":") {
                    isSlice = true
                    parts.append(current); current = nil
                    _ = advance()
                    continue
                }
                if tok.isSymbol(",") || tok.isSymbol("]") { break }
                if current != nil { throw error("expected ',', ':' or ']' in the index, found \(tok)") }
                current = try expression()
            }
            parts.append(current)
            if isSlice {
                if parts.count > 3 { throw error("a slice has at most three parts (start:end:step)") }
                while parts.count < 3 { parts.append(nil) }
                items.append(.slice(parts[0], parts[1], parts[2]))
            } else {
                guard let e = parts[0] else { throw error("empty index") }
                items.append(.single(e))
            }
            if tok.isSymbol(",") { _ = advance() }
        }
        _ = advance()
        if items.isEmpty { throw error("empty index '[]'") }
        return items
    }

    mutating func primary() throws -> Expr {
        let t = tok
        switch t.kind {
        case .number:
            _ = advance()
            return Expr(.number(t.number), t.pos)
        case .string:
            _ = advance()
            return Expr(.string(try stringParts(t)), t.pos)
        case .ident:
            _ = advance()
            return Expr(.name(t.text), t.pos)
        case .keyword:
            switch t.text {
            case "true", "false": _ = advance(); return Expr(.bool(t.text == "true"), t.pos)
            case "none": _ = advance(); return Expr(.none, t.pos)
            case "fn":
                _ = advance()
                return Expr(.function(try functionRest(name: "<fn>", pos: t.pos)), t.pos)
            default: throw error("unexpected keyword '\(t.text)' in an expression")
            }
        case .symbol:
            switch t.text {
            case "(":
                _ = advance()
                let e = try expression()
                try expectSymbol(")", "to close '(' at \(t.pos.line):\(t.pos.col)")
                return e
            case "[":
                _ = advance()
                var items: [Expr] = []
                while !tok.isSymbol("]") {
                    items.append(try expression())
                    if tok.isSymbol(",") { _ = advance() } else if !tok.isSymbol("]") {
                        throw error("expected ',' or ']' in the list, found \(tok)")
                    }
                }
                _ = advance()
                return Expr(.list(items), t.pos)
            case "{":
                return try record()
            default:
                throw error("expected an expression, found \(t)")
            }
        case .newline, .eof:
            throw error("expected an expression, found \(t)")
        }
    }

    mutating func record() throws -> Expr {
        let open = advance()
        var fields: [(String, Expr)] = []
        skipNewlines()
        while !tok.isSymbol("}") {
            let key: String
            let ktok = tok
            if tok.kind == .ident || tok.kind == .keyword { key = advance().text } else if tok.kind == .string,
                tok.segments.count == 1, case .text(let s) = tok.segments[0] { key = s; _ = advance() } else {
                throw error("expected a field name in the record, found \(tok)")
            }
            if fields.contains(where: { $0.0 == key }) { throw error("field '\(key)' given twice", ktok) }
            try expectSymbol(":", "after the field name '\(key)'")
            skipNewlines()
            fields.append((key, try expression()))
            skipNewlines()
            if tok.isSymbol(",") { _ = advance(); skipNewlines() } else if !tok.isSymbol("}") {
                throw error("expected ',' or '}' in the record, found \(tok)")
            }
        }
        _ = advance()
        return Expr(.record(fields), open.pos)
    }

    /// Splits `{expr}` / `{expr:.3f}` segments and parses each expression with its real position.
    mutating func stringParts(_ t: Token) throws -> [StringPart] {
        var parts: [StringPart] = []
        for seg in t.segments {
            switch seg {
            case .text(let s): parts.append(.text(s))
            case .code(let code, let line, let col):
                var src = code
                var format: String? = nil
                if let (colon, problem) = Parser.badFormat(code) {
                    let at = code.distance(from: code.startIndex, to: colon) + 1
                    throw Diagnostic(problem, at: SourcePos(file: file, line: line, col: col + at))
                }
                if let colon = Parser.formatColon(code) {
                    format = String(code[code.index(after: colon)...])
                    src = String(code[..<colon])
                }
                if src.allSatisfy({ $0 == " " }) { throw Diagnostic("empty '{}' in string; write '\\{' for a brace", at: SourcePos(file: file, line: line, col: col)) }
                var sub = Parser(file: file, text: src, line: line, col: col)
                sub.depth = depth
                // The string is closed, so running out of input inside `{…}` is a plain error
                // (the REPL must not wait for more lines).
                do {
                    let e = try sub.expression()
                    if var d = sub.diagnostics.first { d.atEndOfInput = false; throw d }
                    if sub.tok.kind != .eof { throw sub.error("unexpected \(sub.tok) in string interpolation") }
                    parts.append(.expr(e, format: format))
                } catch var d as Diagnostic {
                    d.atEndOfInput = false
                    throw d
                }
            }
        }
        return parts
    }

    /// The top-level `:` that starts a format spec like `.3f`, `>8`, `8.2e`, `.1%`.
    static func formatColon(_ code: String) -> String.Index? { topLevelColon(code) { NumberFormat(spec: $0) != nil } }

    /// A top-level `:` followed by something shaped like a format that is out of range, and why.
    static func badFormat(_ code: String) -> (String.Index, String)? {
        guard let i = topLevelColon(code, { NumberFormat.problem(spec: $0) != nil }) else { return nil }
        return (i, NumberFormat.problem(spec: String(code[code.index(after: i)...]))!)
    }

    /// The first `:` outside brackets and quotes whose remainder satisfies `accept`.
    static func topLevelColon(_ code: String, _ accept: (String) -> Bool) -> String.Index? {
        var depth = 0
        var quote: Character? = nil
        var idx = code.startIndex
        while idx < code.endIndex {
            let c = code[idx]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if "([{".contains(c) {
                depth += 1
            } else if ")]}".contains(c) { depth -= 1 } else if c == ":" && depth == 0 {
                if accept(String(code[code.index(after: idx)...])) { return idx }
            }
            idx = code.index(after: idx)
        }
        return nil
    }
}
