#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A C library opened at run time with `dlopen`, so the build needs neither its headers nor
/// its `-dev` package and the server still starts where the library is missing.
/// The handle is never closed: the library stays loaded for the life of the process.
struct DynamicLibrary: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    /// The file name that opened.
    let name: String

    /// Opens the first of `names` that the dynamic loader finds, or nil.
    init?(_ names: [String]) {
        for name in names {
            if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) {
                self.handle = handle
                self.name = name
                return
            }
        }
        return nil
    }

    /// The function `symbol` as the C function type `T` (`@convention(c)`), or nil when absent.
    /// The caller's `T` must match the C declaration.
    func function<T>(_ symbol: String, as type: T.Type) -> T? {
        guard let pointer = dlsym(handle, symbol) else { return nil }
        return unsafeBitCast(pointer, to: type)
    }
}
