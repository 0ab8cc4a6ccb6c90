import Core
import Database
import Foundation
import Hummingbird
import Logging
import Storage

/// Reels from uploaded originals (docs/reels.md "Uploads"): `create_reel` checks the original
/// and queues its transcoding, `update_reel`, `delete_reel`, `get_my_reels`, `get_reel`, and
/// the media route that serves a ready reel's outputs by signed token. The transcoding
/// worker itself is the pipeline's (``ReelsWorker``).
public struct ReelsUploads: Sendable {
    let database: Database
    let storage: StorageService
    let logger: Logger
    /// Signs the media links of the records this part answers with.
    public let media: ReelMedia
    let cursors: CursorCodec
    let edits = ActionLimit("reels_edit", burst: 120, perSeconds: 3600, allowance: "change or delete 120 reels an hour")

    static let originals = "reels"
    static let service = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)

    /// The operators' switches; `reels_uploads` stops new reels.
    let killSwitches: any KillSwitches

    public init(database: Database, storage: StorageService, logger: Logger, killSwitches: any KillSwitches = NoKillSwitches()) {
        self.init(database: database, storage: storage, logger: logger, media: ReelMedia(database: database), killSwitches: killSwitches)
    }

    /// With a given media signer (tests pin its clock).
    init(database: Database, storage: StorageService, logger: Logger, media: ReelMedia, killSwitches: any KillSwitches = NoKillSwitches()) {
        self.database = database
        self.storage = storage
        self.logger = logger
        self.media = media
        self.cursors = CursorCodec(database: database)
        self.killSwitches = killSwitches
    }

    public var rpcFunctions: [RPCFunction] {
        [
            RPCFunction("create_reel", parameters: ["object_path", "caption", "visibility"]) { call in
                struct Args: Decodable { var object_path: String; var caption: String?; var visibility: String? }
                let args = try call.decode(Args.self)
                let request = try CreateReelRequest(objectPath: args.object_path, caption: args.caption, visibility: args.visibility)
                try killSwitches.refuseIfEngaged([.reelsUploads])
                return .json(Data(try await create(call.caller, request).utf8))
            },
            RPCFunction("update_reel", parameters: ["reel_id", "caption", "visibility"]) { call in
                struct Args: Decodable { var reel_id: UUID; var caption: String?; var visibility: String? }
                let args = try call.decode(Args.self)
                let caption = try args.caption.map(CreateReelRequest.caption)
                let visibility = try args.visibility.map(CreateReelRequest.visibility)
                return .json(Data(try await update(call.caller, reel: args.reel_id, caption: caption, visibility: visibility).utf8))
            },
            RPCFunction("delete_reel", parameters: ["reel_id"]) { call in
                struct Args: Decodable { var reel_id: UUID }
                let reel = try call.decode(Args.self).reel_id
                try await delete(call.caller, reel: reel)
                struct Deleted: Encodable { var reel_id: String; var deleted = true }
                return try .value(Deleted(reel_id: reel.uuidString.lowercased()))
            },
            RPCFunction("get_my_reels", parameters: ["limit", "before"]) { call in
                struct Args: Decodable { var limit: Int?; var before: String? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.limit, default: 20, maximum: 50)
                let cursor = try await cursors.decode(args.before, field: "before")
                return .json(Data(try await myReels(call.caller, limit: limit, before: cursor).utf8))
            },
            RPCFunction("get_reel", parameters: ["reel_id"]) { call in
                struct Args: Decodable { var reel_id: UUID }
                return .json(Data(try await reel(call.caller, id: try call.decode(Args.self).reel_id).utf8))
            },
        ]
    }

    /// `GET`/`HEAD /reels/v1/media/<token>/<file>`.
    public func addRoutes(to router: Router<AppRequestContext>) {
        ReelMediaRoutes(database: database, storage: storage, media: media).add(to: router)
    }
}
