/// Syntax tree. Every node keeps the position of its first token so errors can point at it.

public enum StringPart {
    case text(String)
    /// An interpolated expression with an optional Python-style format spec (`{x:.3f}`).
    case expr(Expr, format: String?)
}

public struct Argument {
    public let label: String?
    public let value: Expr
    public let pos: SourcePos
}

public enum IndexItem {
    case single(Expr)
    case slice(Expr?, Expr?, Expr?)
}

public struct ParamDecl {
    public let name: String
    public let defaultValue: Expr?
    public let pos: SourcePos
}

/// A function literal or declaration (`fn name(a, b: 2) { … }`, or `fn(x) { … }` as an expression).
public final class FunctionDecl {
    public let name: String
    public let params: [ParamDecl]
    public let body: [Stmt]
    public let pos: SourcePos
    init(name: String, params: [ParamDecl], body: [Stmt], pos: SourcePos) {
        self.name = name
        self.params = params
        self.body = body
        self.pos = pos
    }
}

/// The binary operators, named by what they do and spelled as in the source.
public enum BinaryOp: String, CaseIterable, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%", matmul = "@"
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    /// `x in xs`: membership.
    case contains = "in"

    /// The operator of a compound assignment (`+=` → `.add`), nil for plain `=`.
    public init?(compound token: String) {
        guard token.count >= 2, token.hasSuffix("=") else { return nil }
        self.init(rawValue: String(token.dropLast()))
    }
}

/// `-x` and `not x` (`!x`).
public enum UnaryOp: String, Sendable { case negate = "-", not }

/// The short-circuit operators.
public enum LogicalOp: String, Sendable { case and, or }

public indirect enum ExprKind {
    case number(Double)
    case string([StringPart])
    case bool(Bool)
    case none
    case name(String)
    case list([Expr])
    case record([(String, Expr)])
    case unary(UnaryOp, Expr)
    case binary(BinaryOp, Expr, Expr)
    /// `and` / `or`, evaluated short-circuit.
    case logical(LogicalOp, Expr, Expr)
    /// `f(a, k: v)`; `x |> f(a)` is parsed into `f(x, a)` with `piped` set.
    case call(Expr, [Argument], piped: Bool)
    case member(Expr, String)
    case index(Expr, [IndexItem])
    case function(FunctionDecl)
}

public final class Expr {
    public let kind: ExprKind
    public let pos: SourcePos
    init(_ kind: ExprKind, _ pos: SourcePos) {
        self.kind = kind
        self.pos = pos
    }
}

public indirect enum StmtKind {
    case letBinding(String, Expr)
    /// `target op value` where op is `=`, `+=`, `-=`, `*=` or `/=`; target is a name, member or index.
    case assign(Expr, String, Expr)
    case expr(Expr)
    case ifElse(Expr, [Stmt], [Stmt]?)
    case forIn(String, Expr, [Stmt])
    case whileLoop(Expr, [Stmt])
    case function(FunctionDecl)
    case returnStmt(Expr?)
    case breakStmt
    case continueStmt
}

public final class Stmt {
    public let kind: StmtKind
    public let pos: SourcePos
    init(_ kind: StmtKind, _ pos: SourcePos) {
        self.kind = kind
        self.pos = pos
    }
}

/// A parsed file or REPL entry.
public struct Program {
    public let file: SourceFile
    public let statements: [Stmt]
}
