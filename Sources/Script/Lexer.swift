/// A piece of a string literal: plain text or the source of an `{expr}` interpolation.
public enum StringSegment {
    case text(String)
    /// The expression's source and the position of its first character.
    case code(String, line: Int, col: Int)
}

public struct Token: CustomStringConvertible {
    public enum Kind: Equatable { case number, string, ident, keyword, symbol, newline, eof }
    public let kind: Kind
    /// Identifier, keyword or symbol text; the source text for numbers.
    public let text: String
    public let pos: SourcePos
    public var number: Double = 0
    public var segments: [StringSegment] = []

    public var description: String {
        switch kind {
        case .eof: return "end of input"
        case .newline: return "end of line"
        case .string: return "string"
        case .number: return "number \(text)"
        default: return "'\(text)'"
        }
    }
    func isSymbol(_ s: String) -> Bool { kind == .symbol && text == s }
    func isKeyword(_ s: String) -> Bool { kind == .keyword && text == s }
}

/// Turns source text into tokens. Comments start with `#` and run to the end of the line.
/// Newlines are statement separators, except inside `( … )` and `[ … ]` where they are ignored.
public struct Lexer {
    public static let keywords: Set<String> = [
        "let", "fn", "if", "else", "for", "in", "while", "return", "break", "continue",
        "true", "false", "none", "and", "or", "not",
    ]
    // Longest first so that "|>" wins over "|".
    static let symbols = ["|>", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "->",
                          "+", "-", "*", "/", "%", "@", "<", ">", "=", "(", ")", "[", "]", "{", "}",
                          ",", ":", ".", ";", "!"]

    let file: SourceFile
    let chars: [Character]
    var i = 0
    var line: Int
    var col: Int
    var brackets: [Character] = []
    public private(set) var diagnostics: [Diagnostic] = []

    /// `line`/`col` let interpolated code be lexed with positions in the enclosing file.
    public init(file: SourceFile, text: String? = nil, line: Int = 1, col: Int = 1) {
        self.file = file
        self.chars = Lexer.characters(text ?? file.text)
        self.line = line
        self.col = col
    }

    /// The text's characters, except that a cluster Unicode fused onto an ASCII symbol (a quote
    /// followed by a combining accent) is split into its scalars, so the symbol still lexes as itself.
    static func characters(_ text: String) -> [Character] {
        var out: [Character] = []
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            let scalars = ch.unicodeScalars
            if scalars.count > 1, let first = scalars.first, first.isASCII, !first.properties.isAlphabetic {
                out.append(contentsOf: scalars.map(Character.init))
            } else {
                out.append(ch)
            }
        }
        return out
    }

    var here: SourcePos { SourcePos(file: file, line: line, col: col) }
    func peek(_ k: Int = 0) -> Character? { i + k < chars.count ? chars[i + k] : nil }
    mutating func advance() -> Character {
        let c = chars[i]
        i += 1
        if c == "\n" { line += 1; col = 1 } else { col += 1 }
        return c
    }

    public mutating func tokenize() -> [Token] {
        var out: [Token] = []
        while true {
            let t = next()
            if t.kind == .newline, out.last?.kind == .newline || out.isEmpty { continue }
            out.append(t)
            if t.kind == .eof { break }
        }
        return out
    }

    mutating func next() -> Token {
        while let c = peek() {
            if c == " " || c == "\t" || c == "\r" { _ = advance(); continue }
            if c == "#" { while let d = peek(), d != "\n" { _ = advance() }; continue }
            if c == "\\", peek(1) == "\n" { _ = advance(); _ = advance(); continue }  // explicit line join
            if c == "\n" {
                let p = here
                _ = advance()
                if let top = brackets.last, top == "(" || top == "[" {
                    // A statement keyword at the start of the next line means a bracket was left
                    // open: end the line here so the parser reports it and recovers.
                    if startsStatement() { brackets.removeAll() } else { continue }
                }
                return Token(kind: .newline, text: "\n", pos: p)
            }
            break
        }
        let start = here
        guard let c = peek() else { return Token(kind: .eof, text: "", pos: start) }
        if c.isDigit09 { return lexNumber(start) }
        if c.isIdentifierStart {
            var s = ""
            while let d = peek(), d.isIdentifierStart || d.isDigit09 { s.append(advance()) }
            return Token(kind: Lexer.keywords.contains(s) ? .keyword : .ident, text: s, pos: start)
        }
        if c == "\"" || c == "'" { return lexString(start, quote: c) }
        if let s = symbol(at: c) {
            for _ in 0..<s.count { _ = advance() }
            switch s {
            case "(", "[", "{": brackets.append(Character(s))
            case ")", "]", "}": if !brackets.isEmpty { brackets.removeLast() }
            default: break
            }
            return Token(kind: .symbol, text: s, pos: start)
        }
        _ = advance()
        diagnostics.append(Diagnostic("unexpected character '\(c)'", at: start))
        return next()
    }

    static let statementKeywords: Set<String> = ["let", "if", "for", "while", "return", "break", "continue"]

    /// Whether the next line (after indentation) begins with a keyword that only starts statements.
    func startsStatement() -> Bool {
        var k = i
        while k < chars.count, chars[k] == " " || chars[k] == "\t" { k += 1 }
        var word = ""
        while k < chars.count, chars[k].isLetter { word.append(chars[k]); k += 1 }
        if k < chars.count, chars[k].isDigit09 || chars[k] == "_" { return false }
        return Lexer.statementKeywords.contains(word)
    }

    /// The symbol starting at the current character `c`, longest first ("|>" before "|"); nil if none.
    /// A lookup on the first character, not a scan of every symbol: the lexer stays fast on long files.
    func symbol(at c: Character) -> String? {
        guard let first = Lexer.symbolsByFirst[c] else { return nil }
        for s in first where s.count == 1 || peek(1) == s.last { return s }
        return nil
    }

    static let symbolsByFirst: [Character: [String]] = Dictionary(grouping: symbols, by: { $0.first! })

    mutating func lexNumber(_ start: SourcePos) -> Token {
        var s = ""
        func digits() { while let d = peek(), d.isDigit09 || d == "_" { let x = advance(); if x != "_" { s.append(x) } } }
        digits()
        if peek() == ".", let d = peek(1), d.isDigit09 { s.append(advance()); digits() }
        if let e = peek(), e == "e" || e == "E" {
            let sign = peek(1)
            if let d = peek(1), d.isDigit09 {
                s.append(advance()); digits()
            } else if sign == "+" || sign == "-", let d = peek(2), d.isDigit09 {
                s.append(advance()); s.append(advance()); digits()
            }
        }
        var t = Token(kind: .number, text: s, pos: start)
        t.number = Double(s) ?? .nan
        return t
    }

    mutating func lexString(_ start: SourcePos, quote: Character) -> Token {
        _ = advance()
        var segs: [StringSegment] = []
        var text = ""
        scan: while true {
            guard let c = peek(), c != "\n" else {
                diagnostics.append(Diagnostic("unterminated string", at: start))  // strings never span lines
                brackets.removeAll()  // the rest of the line is lost; let the newline end the statement
                break
            }
            if c == quote { _ = advance(); break }
            if c == "\\" {
                _ = advance()
                guard let e = peek(), e != "\n" else { continue }
                _ = advance()
                switch e {
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "r": text.append("\r")
                case "0": text.append("\0")
                default: text.append(e)  // \\ \" \' \{ \}
                }
                continue
            }
            if c == "{" {
                let codeStart = (line, col + 1)
                _ = advance()
                var depth = 0
                var code = ""
                var inner: Character? = nil
                var closed = false
                while let d = peek(), d != "\n" {
                    if let q = inner {
                        if d == "\\" { code.append(advance()); if peek() != nil && peek() != "\n" { code.append(advance()) }; continue }
                        if d == q { inner = nil }
                    } else if d == "\"" || d == "'" {
                        inner = d  // a string inside the expression (may reuse the outer quote)
                    } else if d == "{" { depth += 1 } else if d == "}" {
                        if depth == 0 { _ = advance(); closed = true; break }
                        depth -= 1
                    }
                    code.append(advance())
                }
                if !closed {
                    diagnostics.append(Diagnostic("unterminated '{' in string interpolation", at: start))
                    brackets.removeAll()
                    break scan
                }
                if !text.isEmpty { segs.append(.text(text)); text = "" }
                segs.append(.code(code, line: codeStart.0, col: codeStart.1))
                continue
            }
            text.append(advance())
        }
        if !text.isEmpty || segs.isEmpty { segs.append(.text(text)) }
        var t = Token(kind: .string, text: "", pos: start)
        t.segments = segs
        return t
    }
}

extension Character {
    /// 0–9 only: `isNumber` also accepts ², ½ and Arabic-Indic digits, which `Double` cannot read.
    var isDigit09: Bool {
        guard let v = asciiValue else { return false }
        return v >= 48 && v <= 57
    }

    /// A letter (any script) or `_`; ASCII is decided without Unicode property lookups.
    var isIdentifierStart: Bool {
        if let v = asciiValue { return (v >= 65 && v <= 90) || (v >= 97 && v <= 122) || v == 95 }
        return isLetter
    }
}
