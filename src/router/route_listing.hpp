// router/: the route table as text, for `gatehouse check --routes`.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "router/route_table.hpp"

namespace gatehouse::router {

// One line per registered prefix, sorted, columns aligned:
//   PREFIX     METHODS   ENDPOINT   SERVERS
//   /users/v1  GET,POST  users@v1   http://127.0.0.1:9001/api
// METHODS is `*` for every method; SERVERS lists every server of the endpoint, as
// "http://a/api, http://b/api (weight 3)". A bare "/{name}" version route names the
// endpoint it uses without X-API-Version and the versions the header may pick.
std::string format_routes(const RouteTable& table, const config::EndpointList& endpoints);

}  // namespace gatehouse::router
