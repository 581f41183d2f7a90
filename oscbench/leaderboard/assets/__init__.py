"""Static files of the leaderboard site (copied into ``leaderboard/site/assets/`` by the build)."""
