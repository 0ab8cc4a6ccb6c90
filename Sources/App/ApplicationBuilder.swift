import Admin
import AsyncHTTPClient
import Auth
import Calls
import Chat
import Core
import Database
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Insurance
import InsuranceService
import Logging
import Realtime
import Redis
import Reels
import ServiceLifecycle
import Social
import Storage
import Tables

/// The concrete application type (returned so callers can add services).
public typealias EcomansoniApplication = Application<RouterResponder<AppRequestContext>>

/// Loads the sign-in service (keys shared through the database) with the configured
/// one-time-code delivery.
public func loadAuthService(
    config: AppConfig, database: Database, httpClient: HTTPClient, logger: Logger, killSwitches: any KillSwitches = NoKillSwitches()
) async throws -> AuthService {
    let sender: any OTPSender
    switch config.otpDelivery {
    case .log:
        sender = LogOTPSender(logger: logger)
    case .webhook(let url, let secret):
        sender = WebhookOTPSender(url: url, secret: secret, httpClient: httpClient, logger: logger)
    }
    return try await AuthService.load(database: database, settings: config.auth, sender: sender, killSwitches: killSwitches)
}

/// The insurance assistant: the configured OpenAI-compatible model, or the built-in one.
func makeAssistant(config: AppConfig, calculator: OsagoCalculator, database: Database, logger: Logger) throws -> any AssistantEngine {
    if let settings = config.assistant.provider {
        return ProviderAssistant(settings: settings, httpClient: .shared, calculator: calculator, logger: logger)
    }
    return BuiltInAssistant(calculator: calculator, knowledge: KnowledgeBase(database: database, articles: try KnowledgeBase.bundledArticles()))
}

/// The configured object store: a local directory (created if missing) or an S3-compatible service.
public func makeStorageBackend(config: AppConfig, logger: Logger) async throws -> any StorageBackend {
    switch config.storage.backend {
    case .local:
        return try await LocalDiskBackend(root: config.resolvedStorageDirectory)
    case .s3:
        guard let settings = config.storage.s3 else { throw ConfigurationError("STORAGE_BACKEND=s3 needs the S3_* settings") }
        let backend = try S3Backend(settings: settings, httpClient: .shared, logger: logger)
        try await backend.createBucketIfMissing()
        return backend
    }
}

/// The server's HTTP routes, WebSocket routes and background services, before they are bound
/// to an address: what ``buildApplication(config:database:realtimeDatabase:tablesDatabase:auth:bus:storageBackend:killSwitches:buckets:redis:logger:)``
/// serves, and what the tests compare with the OpenAPI document (`Public/openapi.json`).
public struct AppSurface {
    public let router: Router<AppRequestContext>
    let webSockets: Router<RealtimeUpgradeContext>
    /// Where realtime WebSocket upgrades go (when this instance serves the API).
    let realtimeSockets: RealtimeController?
    let services: [any Service]
}

/// Builds the whole HTTP application on a database that is running and migrated.
///
/// Used by `ecomansoni serve` and by the tests, so both exercise the same routes.
/// `config.roles` picks what is served: the API and web app, the calls service, or both
/// (operations endpoints and TURN credentials are always there).
///
/// `realtimeDatabase` is where realtime delivery reads rows, `tablesDatabase` where
/// `/rest/v1/<table>` runs clients' queries, a pool whose connections carry the table API's
/// statement timeout (``TableLimits/connectionSettings``); both default to `database`.
/// `storageBackend` holds object bytes (``makeStorageBackend(config:logger:)``); without one
/// the `/storage/v1` routes are not served. `killSwitches` is the instance's board (the one
/// sign-in was given); without one a new board is made. It runs as one of the services.
/// `buckets` holds the rate limits' token buckets when the instances share them (Redis);
/// without it each limit counts in this process. With `redis`, the calls service keeps its
/// device bindings and room membership there instead of PostgreSQL.
public func buildApplication(
    config: AppConfig, database: Database, realtimeDatabase: Database? = nil, tablesDatabase: Database? = nil, auth: AuthService,
    bus: any MessageBus = InProcessMessageBus(), storageBackend: (any StorageBackend)? = nil, killSwitches: KillSwitchBoard? = nil,
    buckets: (any TokenBucketStore)? = nil, redis: RedisClient? = nil, logger: Logger
) throws -> EcomansoniApplication {
    let surface = try buildSurface(
        config: config, database: database, realtimeDatabase: realtimeDatabase, tablesDatabase: tablesDatabase, auth: auth, bus: bus,
        storageBackend: storageBackend,
        killSwitches: killSwitches, buckets: buckets, redis: redis, logger: logger)
    var app = Application(
        router: surface.router,
        server: .guardedHTTP1WebSocketUpgrade(
            webSocketResponder: surface.webSockets.buildResponder(),
            // The calls socket's: no library pings (CallsConnection has its own heartbeat and
            // idle close, and a ping task per socket costs 1–2.7 KB, docs/performance.md).
            // Realtime sockets do not use the library (RealtimeUpgradeTap).
            webSocket: .init(maxFrameSize: RealtimeLimits().maximumFrameBytes, autoPing: .disabled),
            limits: config.http,
            realtime: surface.realtimeSockets.map { .init(controller: $0, maximumFrameBytes: config.realtime.maximumFrameBytes) }),
        configuration: .init(address: .hostname(config.host, port: config.port)),
        logger: logger)
    app.addServices(surface.services)
    // A bus with a connection of its own (PostgreSQL LISTEN, Redis SUBSCRIBE) runs beside the server.
    if let bus = bus as? any Service {
        app.addServices(bus)
    }
    return app
}

/// The routes and services ``buildApplication(config:database:realtimeDatabase:tablesDatabase:auth:bus:storageBackend:killSwitches:buckets:redis:logger:)``
/// serves (same parameters).
public func buildSurface(
    config: AppConfig, database: Database, realtimeDatabase: Database? = nil, tablesDatabase: Database? = nil, auth: AuthService,
    bus: any MessageBus = InProcessMessageBus(), storageBackend: (any StorageBackend)? = nil, killSwitches: KillSwitchBoard? = nil,
    buckets: (any TokenBucketStore)? = nil, redis: RedisClient? = nil, logger: Logger
) throws -> AppSurface {
    _ = AppMetrics.registry
    let tokens = auth.tokens
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestMetricsMiddleware())
    if config.trustProxy {
        router.add(middleware: ClientAddressMiddleware())
    }
    router.add(middleware: ErrorShapeMiddleware(.plain))
    OperationsController(database: database, migrator: Migrator(migrations: try Migration.bundled(), logger: logger), bus: bus)
        .addRoutes(to: router)
    let functions = router.group("functions/v1")
        .add(middleware: ErrorShapeMiddleware(.functions))
        .add(middleware: APIKeyMiddleware(tokens: tokens))
        .add(middleware: CallerMiddleware(tokens: tokens))
    let webSockets = Router(context: RealtimeUpgradeContext.self)
    let killSwitches = killSwitches ?? KillSwitchBoard(database: database, logger: logger)
    var services: [any Service] = [killSwitches]

    let storage = storageBackend.map { makeStorageService(config: config, database: database, backend: $0, logger: logger) }
    // Reels keep their media in storage: without a backend there are no reels.
    let reels = storage.map {
        ReelsModule(
            database: database, storage: $0, bus: bus, settings: config.reels, logger: logger, killSwitches: killSwitches, buckets: buckets)
    }
    if let reels {
        services += reels.services(worker: config.roles.contains(.worker), arbiter: config.roles.contains(.arbiter))
    }

    var realtimeSockets: RealtimeController?
    if config.roles.contains(.api) {
        let realtime = RealtimeService(
            feed: ChatChangeFeed(database: realtimeDatabase ?? database), bus: bus, verify: { token in try await tokens.caller(fromToken: token) },
            limits: config.realtime, logger: logger)
        try addAPI(
            config: config, database: database, tablesDatabase: tablesDatabase ?? database, auth: auth, realtime: realtime, reels: reels, killSwitches: killSwitches, buckets: buckets,
            router: router, functions: functions, logger: logger)
        if let storage, let storageBackend {
            services.append(
                addStorage(
                    config: config, database: database, storage: storage, backend: storageBackend, tokens: tokens, router: router,
                    logger: logger))
        }
        reels?.addRoutes(to: router)
        services += addAdmin(
            config: config, database: database, tokens: tokens, killSwitches: killSwitches, reels: reels, realtime: realtime, buckets: buckets,
            router: router, logger: logger)
        let realtimeController = RealtimeController(realtime: realtime, isAPIKey: tokens.isAPIKey, trustProxy: config.trustProxy)
        realtimeSockets = realtimeController
        realtimeController.addBroadcastRoutes(
            to: router.group("realtime/v1/api")  // errors in the router's plain shape
                .add(middleware: APIKeyMiddleware(tokens: tokens))
                .add(middleware: CallerMiddleware(tokens: tokens)),
            buckets: buckets)
        services.append(realtime)
        if config.readsChangeLog {
            services.append(
                ChangeLogReader(
                    realtime: realtime, database: realtimeDatabase ?? database, settings: config.changeCapture,
                    instance: config.changeCapture.instanceName ?? "\(ProcessInfo.processInfo.hostName):\(config.port)", logger: logger))
        }
    }

    // Finished 1:1 calls become messages of their DM: the chat implements the calls' seam.
    let callEvents = ChatCallEvents(chat: ChatService(database: database, publisher: BusChangePublisher(bus: bus)))
    let calls = CallsService(
        settings: config.calls, database: database, bus: bus, logger: logger, recorder: callEvents, killSwitches: killSwitches,
        redis: redis
    ) { token in
        try await verifiedAccessToken(token, tokens: tokens)
    }
    let callsController = CallsController(calls: calls, trustProxy: config.trustProxy, buckets: buckets)
    callsController.addRoutes(to: functions)
    if config.roles.contains(.calls) {
        callsController.addWebSocketRoutes(to: webSockets)
        services.append(calls)
    }

    return AppSurface(router: router, webSockets: webSockets, realtimeSockets: realtimeSockets, services: services)
}

/// The API surfaces: web app, `/auth/v1`, `/rest/v1` RPCs and tables, and the insurance functions.
private func addAPI(
    config: AppConfig, database: Database, tablesDatabase: Database, auth: AuthService, realtime: RealtimeService, reels: ReelsModule?, killSwitches: any KillSwitches,
    buckets: (any TokenBucketStore)?, router: Router<AppRequestContext>, functions: RouterGroup<AppRequestContext>, logger: Logger
) throws {
    let tokens = auth.tokens
    let social = SocialService(database: database)
    let chat = ChatService(database: database, publisher: realtime, killSwitches: killSwitches)
    let tariffs = try TariffCatalog.bundled()
    let osago = OsagoService(catalog: tariffs, database: database)
    let assistant = try makeAssistant(config: config, calculator: OsagoCalculator(catalog: tariffs), database: database, logger: logger)

    var registry = RPCRegistry()
    registry.register(auth.rpcFunctions)
    registry.register(social.rpcFunctions)
    registry.register(chat.rpcFunctions)
    registry.register(osago.rpcFunctions)
    registry.register(UserWarnings(database: database).rpcFunctions)
    if let reels {
        registry.register(reels.rpcFunctions)
    }

    let publicDirectory = WebApp.locatePublicDirectory(configured: config.publicDirectory)
    if publicDirectory == nil {
        logger.warning("no Public/ folder with index.html found: the web app is not served (set PUBLIC_DIR)")
    }
    WebApp(
        publicDirectory: publicDirectory, anonKey: tokens.anonKey, publicURL: config.resolvedPublicURL,
        otpResendSeconds: config.auth.smsMaxFrequencySeconds, otpLength: config.auth.otpLength,
        compressionCache: CompressionCache.resolve(configured: config.webAssetCacheDirectory)
    ).addRoutes(to: router, logger: logger)

    let authController = AuthController(auth: auth, buckets: buckets)
    authController.addPublicRoutes(to: router.group("auth/v1").add(middleware: ErrorShapeMiddleware(.gotrue)))
    authController.addRoutes(
        to: router.group("auth/v1")
            .add(middleware: ErrorShapeMiddleware(.gotrue))
            .add(middleware: APIKeyMiddleware(tokens: tokens)))

    let rest = router.group("rest/v1")
        .add(middleware: ErrorShapeMiddleware(.postgrest))
        .add(middleware: APIKeyMiddleware(tokens: tokens))
        .add(middleware: CallerMiddleware(tokens: tokens))
    RPCController(registry: registry, shaper: RPCResultShaper(database: database)).addRoutes(to: rest)
    let chatTableWrites = ChatTableWritesAdapter(changes: ChatTableChanges(database: database), publisher: realtime, logger: logger)
    TablesController(
        database: tablesDatabase, schema: SchemaCache(database: database), observer: chatTableWrites, rpcs: registry.signatures
    ).addRoutes(to: rest)

    InsuranceController(
        osago: osago, assistant: assistant, ratePerMinute: config.assistant.ratePerMinute,
        keepAlive: .seconds(config.assistant.keepAliveSeconds), buckets: buckets, logger: logger
    ).addRoutes(to: functions)
}

/// `/admin/v1`: the admin console's API (API key and a signed-in user, then an admin session).
/// Returns the audit anchor service when anchors are on.
private func addAdmin(
    config: AppConfig, database: Database, tokens: TokenService, killSwitches: any KillSwitches, reels: ReelsModule?,
    realtime: RealtimeService, buckets: (any TokenBucketStore)?, router: Router<AppRequestContext>, logger: Logger
) -> [any Service] {
    let admin = AdminService(
        database: database, settings: config.admin, killSwitches: killSwitches,
        reelReview: reels.map { ReelReviewAdapter(moderation: $0.moderation) },
        accounts: AccountDirectoryAdapter(accounts: UserAccounts(database: database)),
        reportedContent: ReportedContentAdapter(
            chat: ChatService(database: database, publisher: realtime, killSwitches: killSwitches), social: SocialService(database: database)))
    AdminController(admin: admin, buckets: buckets).addRoutes(
        to: router.group("admin/v1")
            .add(middleware: AdminRequestIDMiddleware())
            .add(middleware: ErrorShapeMiddleware(.plain))
            .add(middleware: APIKeyMiddleware(tokens: tokens))
            .add(middleware: CallerMiddleware(tokens: tokens)))
    guard config.admin.auditAnchorSeconds > 0 else { return [] }
    return [AuditAnchorService(database: database, settings: config.admin, logger: logger)]
}

/// `/storage/v1`: the Supabase Storage API. Public objects and signed URLs need no header;
/// everything else the API key and a caller. Upload bodies stream (no body-size cap applies
/// to them but the storage limits). Returns the storage janitor's service (queued blob
/// deletions and orphaned uploads), which stops on graceful shutdown.
private func addStorage(
    config: AppConfig, database: Database, storage: StorageService, backend: any StorageBackend, tokens: TokenService,
    router: Router<AppRequestContext>, logger: Logger
) -> any Service {
    let controller = StorageController(storage: storage, logger: logger)
    controller.addOpenRoutes(to: router.group("storage/v1").add(middleware: ErrorShapeMiddleware(.storage)))
    controller.addRoutes(
        to: router.group("storage/v1")
            .add(middleware: ErrorShapeMiddleware(.storage))
            .add(middleware: APIKeyMiddleware(tokens: tokens))
            .add(middleware: CallerMiddleware(tokens: tokens)))
    // TUS resumable uploads (tus errors: real status, plain text); OPTIONS needs no key.
    let resumable = ResumableUploadController(
        uploads: ResumableUploads(storage: storage, ttlSeconds: config.storage.resumableUploadTTLSeconds), publicURL: config.publicURL)
    resumable.addOpenRoutes(to: router.group("storage/v1/upload/resumable").add(middleware: TusErrorMiddleware()))
    resumable.addRoutes(
        to: router.group("storage/v1/upload/resumable")
            .add(middleware: TusErrorMiddleware())
            .add(middleware: APIKeyMiddleware(tokens: tokens))
            .add(middleware: CallerMiddleware(tokens: tokens)))
    return StorageJanitorService(
        janitor: StorageJanitor(database: database, backend: backend, settings: storage.settings, logger: logger))
}

/// The storage service over `backend`, with its media processing directory (cleared of a
/// previous run's leftovers).
private func makeStorageService(config: AppConfig, database: Database, backend: any StorageBackend, logger: Logger) -> StorageService {
    var settings = config.storage
    let processing = settings.processingDirectory ?? URL(fileURLWithPath: config.resolvedStorageDirectory).appendingPathComponent("processing").path
    settings.processingDirectory = processing
    StaleFiles.remove(in: processing)
    return StorageService(database: database, backend: backend, settings: settings, logger: logger)
}

/// Runs ``StorageJanitor`` until graceful shutdown.
private struct StorageJanitorService: Service {
    let janitor: StorageJanitor

    func run() async throws {
        await cancelWhenGracefulShutdown { await janitor.run() }
    }
}

/// Verifies a user's access token locally (signature, expiry, audience) for the calls service.
func verifiedAccessToken(_ token: String, tokens: TokenService) async throws -> VerifiedAccessToken {
    let caller = try await tokens.caller(fromToken: token)
    struct Claims: Decodable { var exp: Int; var aud: String? }
    let claims = try JSONDecoder().decode(Claims.self, from: Data(caller.claimsJSON.utf8))
    guard caller.role == .authenticated, let user = caller.userID, claims.aud == "authenticated" else {
        throw CallsError(.unauthenticated, "a signed-in user's access token is required")
    }
    return VerifiedAccessToken(userId: user, expiresAt: claims.exp)
}
