// The server's render of a shop page (scripts/serve.mjs): the same routes, pages and queries
// as in the browser, answered by the gateway before the HTML leaves, so a phone paints the
// page, and starts on its pictures, without waiting for the app's code. The browser then
// hydrates this markup with the state it came with (src/main.tsx).
import { ApolloProvider } from '@apollo/client/react';
import { prerenderStatic } from '@apollo/client/react/ssr';
import { StrictMode } from 'react';
import { renderToString } from 'react-dom/server';
import { createStaticHandler, createStaticRouter, StaticRouterProvider } from 'react-router';
import { createApolloClient, gatewayFetch } from './app/apollo';
import { routes } from './app/router';
import { serializeState } from './app/serverState';

export interface RenderOptions {
  /** The gateway's GraphQL endpoint as this server reaches it. */
  gatewayUrl: string;
  /** Sent with every query (the shopper's address, so the gateway's limits count shoppers). */
  headers: Record<string, string>;
  /** Ends the render: the browser then draws the page itself. */
  signal: AbortSignal;
}

export interface RenderedPage {
  /** The markup inside `#root`. */
  html: string;
  /** The JSON for the page's state block (src/app/serverState.ts). */
  state: string;
}

/**
 * The page at `url` rendered with its data, or null when the browser should draw it alone:
 * a redirect, a query that failed or answered with errors, or a render past its deadline. A
 * page is only ever sent with the complete data it was drawn from, so the browser's first
 * render is the server's.
 */
export async function render(
  url: string,
  { gatewayUrl, headers, signal }: RenderOptions,
): Promise<RenderedPage | null> {
  let failed = false;
  const send: typeof fetch = async (input, init) => {
    const outgoing = new Headers(init?.headers);
    for (const [name, value] of Object.entries(headers)) outgoing.set(name, value);
    try {
      const response = await gatewayFetch(input, { ...init, headers: outgoing, signal });
      const answer = (await response.clone().json()) as {
        errors?: { extensions?: { code?: string } }[];
      };
      // a gateway that does not know a document yet is sent it (Apollo's persisted-query
      // protocol): that answer is a step, not a failure
      const errors = (answer.errors ?? []).filter(
        (error) => error.extensions?.code !== 'PERSISTED_QUERY_NOT_FOUND',
      );
      if (!response.ok || errors.length > 0) failed = true;
      return response;
    } catch (error) {
      failed = true;
      throw error;
    }
  };
  const client = createApolloClient({ uri: gatewayUrl, fetch: send, ssrMode: true });
  const handler = createStaticHandler(routes(client));
  const context = await handler.query(new Request(url, { signal }));
  if (context instanceof Response || context.errors) return null;
  const router = createStaticRouter(handler.dataRoutes, context);
  const { result, aborted } = await prerenderStatic({
    tree: (
      <StrictMode>
        <ApolloProvider client={client}>
          <StaticRouterProvider router={router} context={context} hydrate={false} />
        </ApolloProvider>
      </StrictMode>
    ),
    renderFunction: renderToString,
    signal,
  });
  if (aborted || failed || signal.aborted) return null;
  return {
    html: result,
    state: serializeState({
      apollo: client.extract(),
      router: { loaderData: context.loaderData, actionData: context.actionData },
    }),
  };
}
