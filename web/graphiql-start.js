// GraphiQL from the files shipped with the server (nothing from a CDN): paste
// {"Authorization": "Bearer <access token>"} into the Headers pane, as the README says.
(function () {
  var here = window.location;
  var fetcher = GraphiQL.createFetcher({
    url: here.origin + "/graphql",
    subscriptionUrl: (here.protocol === "https:" ? "wss://" : "ws://") + here.host + "/graphql",
  });
  var saved = null;
  try { saved = JSON.parse(sessionStorage.getItem("resolute.session") || "null"); } catch (e) { saved = null; }
  var headers = saved && saved.access ? JSON.stringify({ Authorization: "Bearer " + saved.access }, null, 2) : '{"Authorization": "Bearer "}';
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultHeaders: headers, headerEditorEnabled: true, shouldPersistHeaders: false })
  );
})();
