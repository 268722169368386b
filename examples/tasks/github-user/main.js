async function main(input) {
  const base = input.base_url || "https://api.github.com";
  let response;
  try {
    response = fetch(base + "/users/" + encodeURIComponent(input.username), {
      headers: { Accept: "application/json" },
    });
  } catch (e) {
    throw new NetworkError("could not reach " + base + ": " + e.message);
  }
  if (response.status === 404) throw new DataError("no such user: " + input.username);
  if (response.status === 429) throw new RateLimitError("rate limited");
  if (!response.ok) throw new HttpError(response.status, "unexpected status " + response.status);
  const user = response.body;
  return { login: user.login, name: user.name || null, public_repos: user.public_repos };
}
