/*
 * The node's setup page (node/setup.ts), whole: one HTML file with its style and script inline, so the single-file
 * node carries it without assets, and nothing is fetched from elsewhere. The script asks only its own origin.
 */

/** The page served at /setup. */
export const SETUP_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Set up your cidcast node</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.5rem; }
  label { display: block; margin: 1rem 0 0.25rem; font-weight: 600; }
  input, select, textarea { width: 100%; box-sizing: border-box; font: inherit; padding: 0.4rem; }
  textarea { height: 5rem; font-family: ui-monospace, monospace; font-size: 0.85rem; }
  .hint { color: #5a6270; font-size: 0.9rem; font-weight: 400; }
  button { margin-top: 1.5rem; font: inherit; padding: 0.5rem 1.5rem; }
  #error { color: #a11; white-space: pre-wrap; }
  #done { color: #176b2c; }
</style>
</head>
<body>
<h1>Set up your cidcast node</h1>
<p>Paste the join token your main server's admin gave you (it starts with <code>ccj_</code>), choose where the node keeps its files, and start it.</p>
<form id="setup">
  <label for="token">Join token</label>
  <textarea id="token" name="token" required spellcheck="false" autocomplete="off"></textarea>
  <label for="folder">Data folder <span class="hint" id="space"></span></label>
  <input id="folder" name="folder" spellcheck="false">
  <label for="name">Name <span class="hint">(optional: the admin's choice, else this computer's name)</span></label>
  <input id="name" name="name" maxlength="300">
  <label for="mode">Mode</label>
  <select id="mode" name="mode">
    <option value="">as the admin chose</option>
    <option value="shared">shared: serves anyone the main server sends</option>
    <option value="local">local: serves its owner alone, on this machine</option>
  </select>
  <label for="quota">Space it may use, in GB <span class="hint">(optional: empty means the free space of the folder's disk)</span></label>
  <input id="quota" name="quota" type="number" min="1" step="1">
  <button type="submit" id="start">Join and start</button>
</form>
<p id="error" role="alert"></p>
<p id="done" role="status"></p>
<script>
  const $ = id => document.getElementById(id)
  const gb = bytes => (bytes / 1e9).toFixed(bytes < 1e10 ? 1 : 0) + ' GB'
  async function showSpace () {
    const answer = await fetch('/setup/folder?path=' + encodeURIComponent($('folder').value)).then(r => r.json()).catch(() => null)
    if (answer == null || answer.error != null) { $('space').textContent = ''; return }
    if ($('folder').value === '') $('folder').value = answer.folder
    $('space').textContent = answer.freeBytes == null ? '' : '(' + gb(answer.freeBytes) + ' free there)'
  }
  $('folder').addEventListener('change', showSpace)
  showSpace()
  $('setup').addEventListener('submit', async event => {
    event.preventDefault()
    $('error').textContent = ''
    $('start').disabled = true
    const quota = Number($('quota').value)
    const body = { token: $('token').value.trim(), folder: $('folder').value, name: $('name').value || undefined, mode: $('mode').value || undefined, quotaBytes: quota > 0 ? Math.round(quota * 1e9) : undefined }
    try {
      const res = await fetch('/setup', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      const answer = await res.json().catch(() => ({}))
      if (!res.ok) throw new Error(answer.message || ('the node answered ' + res.status))
      $('setup').hidden = true
      $('done').textContent = 'Joined: the node is starting, with its files in ' + answer.data + '.'
      // the node takes this address over once it runs; its health page says so
      for (let i = 0; i < 120; i++) {
        await new Promise(resolve => setTimeout(resolve, 500))
        const health = await fetch('/healthz').then(r => r.ok ? r.json() : null).catch(() => null)
        if (health != null && health.status != null) {
          $('done').textContent = 'Your node is running. You can close this page; it starts by itself from now on with its data folder.'
          return
        }
      }
    } catch (err) {
      $('error').textContent = err.message
      $('start').disabled = false
    }
  })
</script>
</body>
</html>
`
