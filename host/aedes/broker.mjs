// Aedes on 127.0.0.1:PORT, for host/brokers.py. Sessions and retained messages live in
// Aedes' default in-memory persistence, so a restart forgets them, as it does for users
// who run Aedes without a persistence module.
//   node broker.mjs PORT [USER PASSWORD]   (with a user: that name with another password is refused, code 5)
import net from 'node:net'
import { Aedes } from 'aedes'

const [port, user, password] = process.argv.slice(2)
const aedes = await Aedes.createBroker()
if (user) {
  // anonymous clients are let in; a user name must come with its password
  aedes.authenticate = (client, u, p, done) => done(null, u == null || (u === user && String(p) === password))
}
const server = net.createServer(aedes.handle)
server.listen(Number(port), '127.0.0.1', () => console.log('listening', port))
const stop = () => aedes.close(() => { server.close(); process.exit(0) })
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
