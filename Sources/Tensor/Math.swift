import Foundation

/// Scalar libm entry points for cold code (never in hot loops; those use CKernels' vector math).
@usableFromInline func Foundation_pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
