import Foundation

/// Scalar libm entry points for cold code (never in hot loops; those use CKernels' vector math).
@usableFromInline func Foundation_pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
@usableFromInline func Foundation_logf(_ x: Float) -> Float { Foundation.logf(x) }
@usableFromInline func Foundation_expf(_ x: Float) -> Float { Foundation.expf(x) }
@usableFromInline func Foundation_cos(_ x: Double) -> Double { Foundation.cos(x) }
