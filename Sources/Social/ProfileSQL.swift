/// SQL fragments shared by the social queries.
enum ProfileSQL {
    /// A profile's public fields as a JSON object (never the phone).
    static func publicJSON(_ alias: String) -> String {
        """
        json_build_object('id', \(alias).id, 'username', \(alias).username, 'display_name', \(alias).display_name, \
        'avatar_url', \(alias).avatar_url, 'bio', \(alias).bio, 'is_private', \(alias).is_private, \
        'last_seen_at', \(alias).last_seen_at, 'created_at', \(alias).created_at)
        """
    }
}
