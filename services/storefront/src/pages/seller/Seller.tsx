// The seller area: the products the seller offers, its offer on each (price, availability),
// its stock of each (the inventory service), archiving the products it owns, and new
// products. The services check every change again (a seller acts only for its own seller
// account, changes only the products it owns and adjusts only its own SKUs' stock).
import { skipToken, useMutation, useQuery } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { RequireRole } from '../../auth/RequireRole';
import { AVAILABILITY_OPTIONS, availabilityLabel } from '../../components/Availability';
import { ErrorNotice } from '../../components/ErrorNotice';
import { FormAlert, FormField, SelectField, SubmitButton } from '../../components/FormField';
import { Skeleton } from '../../components/Skeleton';
import { useCategoryTree, type CategoryNode } from '../../app/categories';
import {
  ShopAdjustStockDocument,
  ShopArchiveProductDocument,
  ShopCreateProductDocument,
  ShopMeDocument,
  ShopSellerProductsDocument,
  ShopSellerStockDocument,
  ShopUpsertListingDocument,
  type Availability,
  type SellerProductFragment,
  type SellerStockFragment,
} from '../../gql/graphql';
import { describeError } from '../../lib/errors';
import { SHOP_CURRENCY, amountText, parseAmount } from '../../lib/money';
import { checkText, problemsOf, type Problems } from '../../lib/validation';

const SKU = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;

function checkSku(value: string): string | undefined {
  if (!value.trim()) return 'This field is required';
  if (!SKU.test(value.trim())) return 'Use 3 to 64 letters, digits, dots, dashes or underscores';
  return undefined;
}

function checkPrice(value: string, currency: string): string | undefined {
  if (!value.trim()) return 'This field is required';
  if (parseAmount(value, currency) === null) return 'Enter an amount such as 24.99';
  return undefined;
}

/** Server problems under the names of this page's fields (price.amount -> price). */
function fieldsOf(error: unknown) {
  const report = describeError(error);
  const { amount, currency, ...fields } = report.fields;
  const price = amount ?? currency;
  return { message: report.message, fields: price ? { ...fields, price } : fields };
}

/** The end of a form that edits a row: save, cancel, and the form's own error. */
function RowFormEnd({
  saving,
  label,
  onCancel,
  error,
}: {
  saving: boolean;
  label: string;
  onCancel: () => void;
  error: string | null;
}) {
  return (
    <>
      <div className="flex gap-2 sm:mt-6">
        <SubmitButton busy={saving} busyLabel="Saving…">
          {label}
        </SubmitButton>
        <button
          type="button"
          onClick={onCancel}
          className="rounded-md border border-slate-300 px-4 py-2 font-medium hover:bg-slate-100"
        >
          Cancel
        </button>
      </div>
      <div className="sm:col-span-3">
        <FormAlert message={error} />
      </div>
    </>
  );
}

function OfferForm({
  product,
  sellerId,
  onDone,
}: {
  product: SellerProductFragment;
  sellerId: string;
  onDone: () => void;
}) {
  const listing = product.listings.find((item) => item.sellerId === sellerId)!;
  const currency = listing.price.currency;
  const [price, setPrice] = useState(amountText(listing.price.amount, currency));
  const [availability, setAvailability] = useState<string>(listing.availability);
  const [problems, setProblems] = useState<Problems>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [save, { loading }] = useMutation(ShopUpsertListingDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = problemsOf({ price: checkPrice(price, currency) });
    setProblems(found);
    setFormError(null);
    if (Object.keys(found).length > 0) return;
    try {
      await save({
        variables: {
          productId: product.id,
          input: {
            sellerId,
            sku: listing.sku,
            price: { amount: parseAmount(price, currency)!, currency },
            availability: availability as Availability,
          },
        },
      });
      onDone();
    } catch (error) {
      const report = fieldsOf(error);
      setProblems(report.fields);
      setFormError(report.message);
    }
  }

  return (
    <form
      noValidate
      onSubmit={submit}
      aria-label={`Your offer on ${product.name}`}
      className="mt-3 grid gap-3 sm:grid-cols-[10rem_12rem_auto] sm:items-start"
    >
      <FormField
        label={`Price (${currency})`}
        name="price"
        inputMode="decimal"
        required
        value={price}
        onChange={(event) => setPrice(event.target.value)}
        error={problems.price}
      />
      <SelectField
        label="Availability"
        name="availability"
        value={availability}
        onChange={(event) => setAvailability(event.target.value)}
        options={AVAILABILITY_OPTIONS}
        error={problems.availability}
      />
      <RowFormEnd saving={loading} label="Save offer" onCancel={onDone} error={formError} />
    </form>
  );
}

const DELTA = /^[+-]?\d{1,7}$/;

function checkDelta(value: string): string | undefined {
  const text = value.trim();
  if (!text) return 'This field is required';
  if (!DELTA.test(text)) return 'Use a whole number of units, e.g. 12 or -3';
  if (Number(text) === 0) return 'Use a number other than 0';
  return undefined;
}

function StockForm({
  stock,
  name,
  onDone,
}: {
  stock: SellerStockFragment;
  name: string;
  onDone: () => void;
}) {
  const [delta, setDelta] = useState('');
  const [reason, setReason] = useState('');
  const [problems, setProblems] = useState<Problems>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [adjust, { loading }] = useMutation(ShopAdjustStockDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = problemsOf({
      delta: checkDelta(delta),
      reason: checkText(reason, { required: true, max: 200 }),
    });
    setProblems(found);
    setFormError(null);
    if (Object.keys(found).length > 0) return;
    try {
      await adjust({
        variables: {
          input: {
            sku: stock.sku,
            delta: Number(delta.trim()),
            reason: reason.trim(),
            expectedVersion: stock.version,
          },
        },
      });
      onDone();
    } catch (error) {
      const report = describeError(error);
      setProblems(report.fields);
      setFormError(report.message);
    }
  }

  return (
    <form
      noValidate
      onSubmit={submit}
      aria-label={`Your stock of ${name}`}
      className="mt-3 grid gap-3 sm:grid-cols-[10rem_16rem_auto] sm:items-start"
    >
      <FormField
        label="Units to add"
        name="delta"
        inputMode="numeric"
        hint="A minus sign removes units"
        required
        value={delta}
        onChange={(event) => setDelta(event.target.value)}
        error={problems.delta}
      />
      <FormField
        label="Reason"
        name="reason"
        hint="A delivery, a count, damage"
        required
        value={reason}
        onChange={(event) => setReason(event.target.value)}
        error={problems.reason}
      />
      <RowFormEnd saving={loading} label="Save stock" onCancel={onDone} error={formError} />
    </form>
  );
}

function ProductRow({
  product,
  sellerId,
  stock,
}: {
  product: SellerProductFragment;
  sellerId: string;
  stock: SellerStockFragment | null | undefined;
}) {
  const [editing, setEditing] = useState(false);
  const [stocking, setStocking] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [archive, { loading: archiving }] = useMutation(ShopArchiveProductDocument);
  const [error, setError] = useState<string | null>(null);
  const listing = product.listings.find((item) => item.sellerId === sellerId);
  const owned = product.ownerSellerId === sellerId;
  if (!listing) return null;
  return (
    <li className="border-b border-slate-200 py-4">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <div>
          <h3 className="font-medium">
            <Link to={`/p/${product.slug}`} className="hover:underline">
              {product.name}
            </Link>
          </h3>
          <p className="text-sm text-slate-700">
            {product.brand} · SKU {listing.sku}
            {owned ? ' · you own this product' : ''}
          </p>
        </div>
        <p className="text-right">
          <span className="font-semibold">{listing.price.formatted}</span>
          <span className="block text-sm text-slate-700">
            {availabilityLabel(listing.availability)}
          </span>
          {stock !== undefined && (
            <span className="block text-sm text-slate-700">
              {stock
                ? `${stock.onHand.toLocaleString('en-US')} in stock · ${stock.reserved.toLocaleString('en-US')} held for orders`
                : 'No stock kept'}
            </span>
          )}
        </p>
      </div>
      {stocking && stock ? (
        <StockForm stock={stock} name={product.name} onDone={() => setStocking(false)} />
      ) : editing ? (
        <OfferForm product={product} sellerId={sellerId} onDone={() => setEditing(false)} />
      ) : (
        <div className="mt-2 flex flex-wrap gap-2 text-sm">
          <button
            type="button"
            onClick={() => setEditing(true)}
            aria-label={`Change your offer on ${product.name}`}
            className="rounded-md border border-slate-300 px-3 py-1.5 font-medium hover:bg-slate-100"
          >
            Change offer
          </button>
          {stock && (
            <button
              type="button"
              onClick={() => setStocking(true)}
              aria-label={`Adjust your stock of ${product.name}`}
              className="rounded-md border border-slate-300 px-3 py-1.5 font-medium hover:bg-slate-100"
            >
              Adjust stock
            </button>
          )}
          {owned && !confirming && (
            <button
              type="button"
              onClick={() => setConfirming(true)}
              aria-label={`Archive ${product.name}`}
              className="rounded-md border border-slate-300 px-3 py-1.5 font-medium hover:bg-slate-100"
            >
              Archive
            </button>
          )}
          {owned && confirming && (
            <span className="flex items-center gap-2">
              <span>Shoppers will no longer find it. Archive?</span>
              <button
                type="button"
                disabled={archiving}
                onClick={async () => {
                  setError(null);
                  try {
                    await archive({
                      variables: { id: product.id },
                      refetchQueries: [ShopSellerProductsDocument],
                    });
                  } catch (problem) {
                    setError(describeError(problem).message);
                    setConfirming(false);
                  }
                }}
                className="rounded-md bg-red-700 px-3 py-1.5 font-medium text-white hover:bg-red-800 disabled:opacity-60"
              >
                Yes, archive
              </button>
              <button
                type="button"
                onClick={() => setConfirming(false)}
                className="rounded-md border border-slate-300 px-3 py-1.5 font-medium hover:bg-slate-100"
              >
                Keep it
              </button>
            </span>
          )}
        </div>
      )}
      {error && <FormAlert message={error} />}
    </li>
  );
}

function flatten(nodes: CategoryNode[], depth = 0): { value: string; label: string }[] {
  return nodes.flatMap((node) => [
    { value: node.id, label: `${'\u00a0\u00a0'.repeat(depth)}${node.name}` },
    ...flatten(node.children ?? [], depth + 1),
  ]);
}

const EMPTY = {
  name: '',
  brand: '',
  categoryId: '',
  sku: '',
  offerSku: '',
  price: '',
  availability: 'IN_STOCK',
};

function NewProductForm({ sellerId, onCreated }: { sellerId: string; onCreated: () => void }) {
  const { roots } = useCategoryTree();
  const [draft, setDraft] = useState(EMPTY);
  const [description, setDescription] = useState('');
  const [problems, setProblems] = useState<Problems>({});
  const [formError, setFormError] = useState<string | null>(null);
  // a product created whose offer failed: a second submit adds only the offer
  const [createdId, setCreatedId] = useState<string | null>(null);
  const [create, { loading: creating }] = useMutation(ShopCreateProductDocument);
  const [list, { loading: listing }] = useMutation(ShopUpsertListingDocument);
  const categories = [{ value: '', label: 'Choose a category' }, ...flatten(roots)];
  const field = (name: keyof typeof EMPTY) => ({
    name,
    value: draft[name],
    error: problems[name],
    onChange: (event: { target: { value: string } }) =>
      setDraft({ ...draft, [name]: event.target.value }),
  });

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = problemsOf({
      name: checkText(draft.name, { required: true, max: 200 }),
      brand: checkText(draft.brand, { required: true, max: 80 }),
      categoryId: draft.categoryId ? undefined : 'Choose a category',
      sku: checkSku(draft.sku),
      // the catalog keeps every SKU unique, the product's and each offer's
      offerSku:
        checkSku(draft.offerSku) ??
        (draft.offerSku.trim() === draft.sku.trim()
          ? 'Use a SKU different from the product’s'
          : undefined),
      price: checkPrice(draft.price, SHOP_CURRENCY),
      description: checkText(description, { max: 5000 }),
    });
    setProblems(found);
    setFormError(null);
    if (Object.keys(found).length > 0) return;
    const price = { amount: parseAmount(draft.price, SHOP_CURRENCY)!, currency: SHOP_CURRENCY };
    const availability = draft.availability as Availability;
    let productId = createdId;
    if (!productId) {
      try {
        const { data } = await create({
          variables: {
            input: {
              name: draft.name.trim(),
              brand: draft.brand.trim(),
              categoryId: draft.categoryId,
              sku: draft.sku.trim(),
              price,
              availability,
              description: description.trim(),
            },
          },
        });
        productId = data!.createProduct.id;
        setCreatedId(productId);
      } catch (error) {
        const report = fieldsOf(error);
        setProblems(report.fields);
        setFormError(report.message);
        return;
      }
    }
    try {
      // the product is the seller's; its offer makes it one of the seller's listed products
      await list({
        variables: {
          productId,
          input: { sellerId, sku: draft.offerSku.trim(), price, availability },
        },
        refetchQueries: [ShopSellerProductsDocument],
      });
    } catch (error) {
      // the product exists: what is left to fix is the offer (its SKU is the one field here)
      const report = fieldsOf(error);
      setProblems(report.fields.sku ? { offerSku: report.fields.sku } : {});
      setFormError(`The product was created, but not your offer on it. ${report.message}`);
      return;
    }
    setCreatedId(null);
    setDraft(EMPTY);
    setDescription('');
    onCreated();
  }

  return (
    <form
      noValidate
      onSubmit={submit}
      aria-label="New product"
      className="grid gap-4 sm:grid-cols-2"
    >
      <FormField label="Product name" required maxLength={200} {...field('name')} />
      <FormField label="Brand" required maxLength={80} {...field('brand')} />
      <SelectField label="Category" options={categories} required {...field('categoryId')} />
      <FormField
        label="Product SKU"
        required
        hint="The catalog's code for the product, e.g. LMN-LAMP-1"
        {...field('sku')}
      />
      <FormField
        label="Your offer’s SKU"
        required
        hint="Your own stock-keeping code for it, e.g. LMN-LAMP-1-ACME"
        {...field('offerSku')}
      />
      <FormField
        label={`Price (${SHOP_CURRENCY})`}
        required
        inputMode="decimal"
        {...field('price')}
      />
      <SelectField label="Availability" options={AVAILABILITY_OPTIONS} {...field('availability')} />
      <FormField
        label="Description"
        className="sm:col-span-2"
        maxLength={5000}
        name="description"
        value={description}
        onChange={(event) => setDescription(event.target.value)}
        error={problems.description}
      />
      <div className="space-y-3 sm:col-span-2">
        <FormAlert message={formError} />
        <button
          type="submit"
          disabled={creating || listing}
          className="rounded-md bg-amber-400 px-4 py-2 font-semibold text-slate-900 hover:bg-amber-300 disabled:opacity-60"
        >
          {creating || listing ? 'Adding…' : 'Add product'}
        </button>
      </div>
    </form>
  );
}

function ProductList({ sellerId }: { sellerId: string }) {
  const { data, error, refetch, fetchMore } = useQuery(ShopSellerProductsDocument, {
    variables: { sellerId },
  });
  const [adding, setAdding] = useState(false);
  const [added, setAdded] = useState(false);
  const [loadingMore, setLoadingMore] = useState(false);
  const products = data?.products;
  const active = (products?.edges ?? []).filter(({ node }) => node.status === 'ACTIVE');
  const skus = active.flatMap(
    ({ node }) => node.listings.find((item) => item.sellerId === sellerId)?.sku ?? [],
  );
  // the stock of the SKUs on the page in one request (the first 100: "Show more" adds 20 at a
  // time); a row says nothing of stock until its SKU's has arrived
  const asked = skus.slice(0, 100);
  const stocks = useQuery(
    ShopSellerStockDocument,
    asked.length > 0 ? { variables: { skus: asked } } : skipToken,
  );
  const stockOf = new Map(
    (stocks.data?.inventoryStocks ?? []).flatMap((stock) => (stock ? [[stock.sku, stock]] : [])),
  );
  if (error && !data) return <ErrorNotice error={error} onRetry={() => void refetch()} />;
  return (
    <>
      <section
        aria-labelledby="new-product"
        className="rounded-lg border border-slate-200 bg-white p-4"
      >
        <div className="flex items-center justify-between gap-2">
          <h2 id="new-product" className="text-lg font-semibold">
            Add a product
          </h2>
          <button
            type="button"
            aria-expanded={adding}
            onClick={() => {
              setAdding(!adding);
              setAdded(false);
            }}
            className="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100"
          >
            {adding ? 'Close' : 'New product'}
          </button>
        </div>
        {added && (
          <p role="status" className="mt-3 rounded-md bg-emerald-50 p-3 text-sm text-emerald-900">
            Your product was added. Shoppers find it in search within a few seconds.
          </p>
        )}
        {adding && (
          <div className="mt-4">
            <NewProductForm
              sellerId={sellerId}
              onCreated={() => {
                setAdding(false);
                setAdded(true);
              }}
            />
          </div>
        )}
      </section>
      <section aria-labelledby="your-products" className="mt-8">
        <h2 id="your-products" className="text-lg font-semibold">
          Your products
          {products ? (
            <span className="ml-2 text-sm font-normal text-slate-700">
              {products.totalCount.toLocaleString('en-US')}
            </span>
          ) : null}
        </h2>
        {!products ? (
          <div role="status" className="mt-4 space-y-3">
            <span className="sr-only">Loading your products…</span>
            {Array.from({ length: 4 }, (_, i) => (
              <Skeleton key={i} className="h-16" />
            ))}
          </div>
        ) : products.edges.length === 0 ? (
          <p className="mt-4 text-slate-700">
            You offer no products yet. Add your first one above.
          </p>
        ) : (
          <>
            <ul className="mt-2">
              {/* an archived product leaves at once (its status comes back with the change) */}
              {active.map(({ node }) => {
                const sku = node.listings.find((item) => item.sellerId === sellerId)?.sku;
                const known = stocks.data && sku && asked.includes(sku);
                const stock = known ? (stockOf.get(sku) ?? null) : undefined;
                return (
                  <ProductRow key={node.id} product={node} sellerId={sellerId} stock={stock} />
                );
              })}
            </ul>
            {products.pageInfo.hasNextPage && (
              <button
                type="button"
                disabled={loadingMore}
                onClick={async () => {
                  setLoadingMore(true);
                  try {
                    await fetchMore({
                      variables: { after: products.pageInfo.endCursor },
                      updateQuery: (previous, { fetchMoreResult }) => ({
                        ...previous,
                        products: {
                          ...fetchMoreResult.products,
                          edges: [...previous.products.edges, ...fetchMoreResult.products.edges],
                        },
                      }),
                    });
                  } finally {
                    setLoadingMore(false);
                  }
                }}
                className="mt-4 rounded-md border border-slate-300 px-4 py-2 font-medium hover:bg-slate-100 disabled:opacity-60"
              >
                {loadingMore ? 'Loading…' : 'Show more'}
              </button>
            )}
          </>
        )}
      </section>
    </>
  );
}

function SellerBody() {
  const { data, error, refetch } = useQuery(ShopMeDocument);
  const sellerId = data?.me?.sellerId;
  if (error) return <ErrorNotice error={error} onRetry={() => void refetch()} />;
  if (!data) {
    return (
      <div role="status" className="space-y-3">
        <span className="sr-only">Loading…</span>
        <Skeleton className="h-24" />
      </div>
    );
  }
  if (!sellerId) {
    return <p className="text-slate-700">Your account is not linked to a seller yet.</p>;
  }
  return <ProductList sellerId={sellerId} />;
}

export function Component() {
  return (
    <RequireRole requires="SELLER">
      <div className="mx-auto max-w-4xl px-4 py-8">
        <title>Seller area · Emporium</title>
        <h1 className="text-2xl font-semibold">Seller area</h1>
        <p className="mt-1 text-sm text-slate-700">Your products, prices and availability.</p>
        <div className="mt-6">
          <SellerBody />
        </div>
      </div>
    </RequireRole>
  );
}
