import Glibc

/// What a path names, from one `stat`.
public enum FileKind: Equatable, Sendable {
    case missing, file, directory, other

    public init(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { self = .missing; return }
        switch info.st_mode & S_IFMT {
        case S_IFREG: self = .file
        case S_IFDIR: self = .directory
        default: self = .other
        }
    }
}

